import Foundation
import LetheCore
import Testing

@Suite struct JSONWriterTests {
    @Test func writesWhatJSONSerializationReadsBack() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"flag":true,"one":1,"big":12345678901234,"half":1.5,"none":null}"#.utf8))
        let value: [String: Any] = [
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é 😀",
            "native": [true, Int64(-7), 42, 2.25] as [Any],
            "parsed": parsed,
            "empty": [String: Any](),
            "list": [Any](),
        ]
        for bytes in [JSONWriter.pretty(value), JSONWriter.compact(value)] {
            let back = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
            #expect(back["text"] as? String == value["text"] as? String)
            let native = back["native"] as! [Any]
            #expect(String(decoding: JSONWriter.compact(native), as: UTF8.self) == "[true,-7,42,2.25]")
            #expect(String(decoding: JSONWriter.compact(back["parsed"]!), as: UTF8.self) == #"{"big":12345678901234,"flag":true,"half":1.5,"none":null,"one":1}"#)
        }
        #expect(String(decoding: JSONWriter.pretty(["b": 1, "a": [String: Any]()]), as: UTF8.self) == "{\n  \"a\" : {},\n  \"b\" : 1\n}\n")
    }
}
