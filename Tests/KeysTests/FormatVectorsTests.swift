import Foundation
@testable import Keys
import LetheCore
import LetheCrypto
import Phone
import TestSupport
import Testing

/// Issue 31, what to build 4: the format for anyone. `Tests/Vectors/format-v1.json` holds, for the envelope (both
/// forms, both versions), the data-key wrapping and the blind index, the keys, nonces, associated data, plaintexts
/// and expected bytes; numbers in several written forms with their E.164 and blind index. Lethe's own code must
/// produce and open exactly these bytes, and so must the reference implementation in Python
/// (`contrib/python/lethe_format.py`, on the `cryptography` package), built from docs/formats.md alone.
/// `LETHE_WRITE_VECTORS=1` writes the file again (only when the format itself changes, with a new version).
@Suite struct FormatVectorsTests {
    static var path: String { LetheProcess.packageRoot.appendingPathComponent("Tests/Vectors/format-v1.json").path }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    /// Fixed inputs: nothing random, so the file is the same every time it is written.
    static let root = [UInt8](repeating: 0x11, count: 32).enumerated().map { UInt8(truncatingIfNeeded: $0.offset * 7 + 3) }
    static let kek = [UInt8](repeating: 0, count: 32).enumerated().map { UInt8(truncatingIfNeeded: 0xA0 + $0.offset) }
    static let dataKey = [UInt8](repeating: 0, count: 32).enumerated().map { UInt8(truncatingIfNeeded: 0x40 + $0.offset * 3) }
    static let nonce: [UInt8] = Array(0..<12).map { UInt8($0 * 17 + 1) }

    /// Everything the file holds, computed by Lethe's code from the fixed inputs.
    static func computed() throws -> [String: Any] {
        let cipher = try AESGCM()
        let indexKey = try HKDFSHA256.derive(inputKey: SecretKey(bytes: root), salt: bytes("lethe keyring v1"), info: bytes("blind index v1"), count: 32)
        var numbers: [[String: Any]] = []
        for (written, region) in [("06 12 34 56 78", "FR"), ("+33 6 12 34 56 78", "FR"), ("0033612345678", "FR"), ("+33612345678", "DE"),
                                  ("020 7946 0958", "GB"), ("+44 20 7946 0958", "FR"), ("(415) 555-2671", "US")] {
            guard case .success(let number) = PhoneNumber.parse(written, defaultRegion: region) else { throw LetheError.software("vector \(written) does not parse") }
            var entry: [String: Any] = ["written": written, "region": region, "e164": number.e164]
            for bits in [32, 24, 20] {
                entry["index_\(bits)"] = hex(try BlindIndex(key: indexKey, bits: bits).tag(number))
            }
            numbers.append(entry)
        }
        let customer: Int64 = 42, keyId: Int64 = 7, kekId = 1
        let wrapAD = DataKeys.wrapContext(customer: customer, keyId: keyId, kekId: kekId)
        let wrapped = nonce + (try cipher.seal(key: SecretKey(bytes: kek), nonce: nonce, plaintext: dataKey, associatedData: wrapAD))
        var envelopes: [[String: Any]] = []
        for (table, column, row, version, plaintext) in [("sms.messages", "body", Int64(1234), UInt8(2), "Rendez-vous mardi 14h"),
                                                           ("sms.messages", "recipient", Int64(1234), UInt8(2), "+33612345678"),
                                                           ("public.sent_sms", "msgdata", Int64(77), UInt8(2), "Code 884213 — à bientôt"),
                                                           ("sms.contacts", "name", Int64(5), UInt8(1), "Camille")] {
            let context = EnvelopeContext(table: table, column: column, customer: customer)
            let ad = context.associatedData(version: version, keyId: keyId, row: row)
            let envelope = try Envelope.seal(bytes(plaintext), key: SecretKey(bytes: dataKey), keyId: keyId, version: version, associatedData: ad,
                                             nonce: nonce, cipher: cipher)
            envelopes.append(["table": table, "column": column, "customer": customer, "row": row, "version": Int(version), "key_id": keyId,
                              "nonce": hex(nonce), "plaintext": plaintext, "associated_data": String(decoding: ad, as: UTF8.self),
                              "envelope": hex(envelope), "text_form": String(decoding: Envelope.textForm(envelope), as: UTF8.self)])
        }
        return [
            "spec": "docs/formats.md, version 1",
            "keyring": ["root": hex(root), "kek_id": kekId, "kek": hex(kek)],
            "blind_index": ["hkdf_salt": "lethe keyring v1", "hkdf_info": "blind index v1", "key": hex(indexKey.unsafeRawBytes), "numbers": numbers],
            "data_key": ["customer": customer, "key_id": keyId, "kek_id": kekId, "key": hex(dataKey), "nonce": hex(nonce),
                         "associated_data": String(decoding: wrapAD, as: UTF8.self), "wrapped": hex(wrapped)],
            "envelopes": envelopes,
        ]
    }

    static func rendered(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    @Test func lethesCodeProducesTheCommittedVectors() throws {
        let computed = try Self.rendered(try Self.computed())
        if ProcessInfo.processInfo.environment["LETHE_WRITE_VECTORS"] == "1" {
            try computed.write(to: URL(fileURLWithPath: Self.path))
        }
        let committed = try Data(contentsOf: URL(fileURLWithPath: Self.path))
        let reparsed = try Self.rendered(try #require(try JSONSerialization.jsonObject(with: committed) as? [String: Any]))
        #expect(reparsed == computed, "Lethe's format changed under the committed vectors: a new format version needs a new section and file")
    }

    @Test func lethesCodeOpensTheCommittedEnvelopes() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.path))) as? [String: Any])
        let keyText = try #require((object["data_key"] as? [String: Any])?["key"] as? String)
        let dataKey = try #require(Hex.decode(keyText))
        for entry in try #require(object["envelopes"] as? [[String: Any]]) {
            let context = EnvelopeContext(table: entry["table"] as! String, column: entry["column"] as! String, customer: (entry["customer"] as! NSNumber).int64Value)
            let row = (entry["row"] as! NSNumber).int64Value
            for stored in [Hex.decode(entry["envelope"] as! String)!, Self.bytes(entry["text_form"] as! String)] {
                let opened = try Envelope.open(stored, key: SecretKey(bytes: dataKey), context: context, row: row, cipher: AESGCM())
                #expect(opened.map { String(decoding: $0, as: UTF8.self) } == entry["plaintext"] as? String)
                // Another row does not open a version 2 envelope (version 1 bound no row).
                let elsewhere = try Envelope.open(stored, key: SecretKey(bytes: dataKey), context: context, row: row + 1, cipher: AESGCM())
                #expect((elsewhere == nil) == ((entry["version"] as! Int) == 2))
            }
        }
    }

    /// The reference implementation in Python, from the spec alone, against the same file; and against a copy with
    /// one expected byte changed, which it must reject (so the check can fail).
    @Test func thePythonReferenceImplementationPassesTheVectors() throws {
        let script = LetheProcess.packageRoot.appendingPathComponent("contrib/python/test_vectors.py").path
        let passed = try PeerCommand.run("/usr/bin/env", ["python3", script, Self.path])
        #expect(passed.status == 0, "\(passed.output)")
        #expect(passed.output.contains("envelopes ok") && passed.output.contains("blind indexes ok") && passed.output.contains("data key ok"), "\(passed.output)")
        var text = try String(contentsOfFile: Self.path, encoding: .utf8)
        let envelope = try #require(text.range(of: "\"envelope\" : \"4c544802"))
        text.replaceSubrange(envelope, with: "\"envelope\" : \"4c544803")
        let tampered = NSTemporaryDirectory() + "lethe-vectors-\(UUID().uuidString).json"
        try text.write(toFile: tampered, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tampered) }
        let failed = try PeerCommand.run("/usr/bin/env", ["python3", script, tampered])
        #expect(failed.status != 0, "a wrong vector must fail: \(failed.output)")
    }
}
