import Foundation
import TestSupport
import Testing

/// Files as people really save them: without a header line, or from a spreadsheet (BOM, CRLF).
@Suite struct IntakeFileShapeTests {
    @Test func aFileWithoutAHeaderLineIsRefusedWithoutEchoingItsFirstRow() throws {
        let directory = try IntakeFixture.directory()
        let csv = try IntakeFixture.write("+33612345678,bonjour camille ca va\n+33698765432,rdv demain\n", name: "nohdr.csv", in: directory)
        let jsonl = try IntakeFixture.write("{\"+33612345678\": \"bonjour camille\", \"phone\": \"+33612345678\", \"message\": \"x\"}\n",
                                            name: "keys.jsonl", in: directory)
        for file in [csv, jsonl] {
            for format in ["text", "json"] {
                let outcome = try LetheProcess.run(["validate", "messages", file, "--log-format", format, "-v"])
                #expect(outcome.status == 65)
                let all = outcome.stdout + outcome.stderr
                for secret in ["612345678", "camille", "bonjour", "698765432"] { #expect(!all.contains(secret), "\(secret) in \(all)") }
            }
        }
        let text = try LetheProcess.run(["validate", "messages", csv])
        #expect(text.stdout.contains("column 1 is not a field name; is the header line missing?"))
    }

    @Test func aSpreadsheetCSVWithByteOrderMarkAndCRLFIsRead() throws {
        let directory = try IntakeFixture.directory()
        let file = directory + "/excel.csv"
        try Data([0xEF, 0xBB, 0xBF] + Array("phone,message\r\n+33612345678,bonjour\r\n06 98 76 54 32,merci\r\n".utf8)).write(to: URL(fileURLWithPath: file))
        let outcome = try LetheProcess.run(["validate", "messages", file])
        #expect(outcome.status == 0, "\(outcome.stdout)")
        #expect(outcome.stdout.contains("2 rows read, 2 valid"))
        let jsonl = directory + "/bom.jsonl"
        try Data([0xEF, 0xBB, 0xBF] + Array("{\"phone\": \"+33612345678\", \"message\": \"bonjour\"}\n".utf8)).write(to: URL(fileURLWithPath: jsonl))
        #expect(try LetheProcess.run(["validate", "messages", jsonl]).status == 0)
    }

    /// A phone made only of whitespace is reported missing, exactly when Foundation's `.whitespaces` would trim it
    /// away (tab and the space separators: no-break, ideographic, thin…), and is otherwise checked as a number.
    @Test func aPhoneOfWhitespaceIsMissingAsFoundationTrimsIt() throws {
        let phones = [" ", "\t", "  \t ", "\u{00A0}", "\u{3000}", "\u{2009}\u{202F}", "\u{200B}", "\u{FEFF}", "\u{85}", " 0\u{00A0}"]
        let directory = try IntakeFixture.directory()
        let file = try IntakeFixture.write("phone,message\n" + phones.map { "\"\($0)\",bonjour\n" }.joined(), name: "blank.csv", in: directory)
        let outcome = try LetheProcess.run(["validate", "messages", file, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let problems = report["problems"] as? [[String: Any]] ?? []
        for (index, phone) in phones.enumerated() {
            let line = index + 2
            let reason = problems.first { $0["line"] as? Int == line }?["reason"] as? String
            let blank = phone.trimmingCharacters(in: .whitespaces).isEmpty
            #expect((reason == "missing") == blank, "line \(line): \(reason ?? "no problem")")
            #expect(reason != nil, "line \(line) was accepted")
        }
    }
}

@Suite struct IntakeControlCharacterTests {
    /// A NUL byte (or another control character no SMS alphabet has) refuses the row, naming its line.
    @Test func aNulByteInAMessageIsRefusedWithItsLine() throws {
        let directory = try IntakeFixture.directory()
        let file = directory + "/nul.csv"
        try Data(Array("phone,message\n+33612345678,bonjour\n+33612345679,bon".utf8) + [0x00] + Array("jour\n".utf8))
            .write(to: URL(fileURLWithPath: file))
        let outcome = try LetheProcess.run(["validate", "messages", file])
        #expect(outcome.status == 65)
        #expect(outcome.stdout.contains("line 3: message: contains the control character U+0000"), "\(outcome.stdout)")
        let tab = try IntakeFixture.write("phone,message\n+33612345678,\"two\nlines are fine\"\n", name: "lf.csv", in: directory)
        #expect(try LetheProcess.run(["validate", "messages", tab]).status == 0)
        // C1 controls (two UTF-8 bytes) and DEL are named too; accented, Greek and euro text next to them is not.
        for (character, named) in [("\u{85}", "U+0085"), ("\u{9F}", "U+009F"), ("\u{7F}", "U+007F")] {
            let other = try IntakeFixture.write("phone,message\n+33612345678,été à Noël €ΔΩ \(character) x\n", name: "c1.csv", in: directory)
            let refused = try LetheProcess.run(["validate", "messages", other])
            #expect(refused.status == 65)
            #expect(refused.stdout.contains("line 2: message: contains the control character \(named)"), "\(refused.stdout)")
        }
        let clean = try IntakeFixture.write("phone,message\n+33612345678,été à Noël €ΔΩ ¡¿ \u{A0}ok\n", name: "clean.csv", in: directory)
        #expect(try LetheProcess.run(["validate", "messages", clean]).status == 0)
    }
}

@Suite struct KeyringLeftoversTests {
    /// A rotation killed while writing the keyring leaves a temporary copy of every key; the next command that loads
    /// the keyring removes it.
    @Test func aKeyringCopyLeftByAKilledRotationIsRemoved() throws {
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        // The state a kill leaves: a temp copy named for a process that no longer runs.
        let stale = keyring + ".tmp-999999"
        try FileManager.default.copyItem(atPath: keyring, toPath: stale)
        let db = try TestDatabase()
        _ = try LetheProcess.run(["keys", "status", "--keyring", keyring, "--database-url", db.conninfo])
        #expect(!FileManager.default.fileExists(atPath: stale))
    }
}
