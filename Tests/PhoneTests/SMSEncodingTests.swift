import Phone
import Testing

@Suite struct SMSEncodingTests {
    static let cases: [(String, String, SMSEncoding.Alphabet, Int, Int)] = [
        ("empty-ish", "a", .gsm7, 1, 1),
        ("160 GSM-7", String(repeating: "a", count: 160), .gsm7, 160, 1),
        ("161 GSM-7", String(repeating: "a", count: 161), .gsm7, 161, 2),
        ("306 GSM-7", String(repeating: "b", count: 306), .gsm7, 306, 2),
        ("307 GSM-7", String(repeating: "b", count: 307), .gsm7, 307, 3),
        ("80 euro signs = 160 septets", String(repeating: "€", count: 80), .gsm7, 160, 1),
        ("81 euro signs never split", String(repeating: "€", count: 81), .gsm7, 162, 2),
        ("brackets are extension", String(repeating: "a", count: 158) + "[", .gsm7, 160, 1),
        ("bracket tips over", String(repeating: "a", count: 159) + "[", .gsm7, 161, 2),
        ("accents in GSM-7", "Été à Paris: ça coûte 5€", .ucs2, 24, 1),
        ("GSM-7 accents", "éèùìòÇØøÅåÄÖÑÜäöñüà", .gsm7, 19, 1),
        ("70 UCS-2 with emoji", String(repeating: "д", count: 68) + "😀", .ucs2, 70, 1),
        ("71 UCS-2 units", String(repeating: "д", count: 69) + "😀", .ucs2, 71, 2),
        ("134 UCS-2 units", String(repeating: "д", count: 134), .ucs2, 134, 2),
        ("emoji never split", String(repeating: "д", count: 66) + "😀" + String(repeating: "д", count: 10), .ucs2, 78, 2),
        ("surrogate pair pushes", String(repeating: "д", count: 66) + "😀" + String(repeating: "д", count: 67), .ucs2, 135, 3),
    ]

    @Test(arguments: cases) func countsSegments(_ name: String, _ text: String, _ alphabet: SMSEncoding.Alphabet, _ units: Int, _ segments: Int) {
        let encoding = SMSEncoding(text: text)
        #expect(encoding.alphabet == alphabet, "\(name)")
        #expect(encoding.units == units, "\(name)")
        #expect(encoding.segments == segments, "\(name)")
    }
}
