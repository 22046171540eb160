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
        #expect(text.stdout.contains("header missing: the first line names none of the required fields"), "\(text.stdout)")
    }

    /// A headerless file whose first line is a contact's name or a one-word message: identifier-shaped, so it
    /// used to be echoed as `unknown field 'alice'` (stdout, stderr, --json, the JSON log). Now only field names
    /// some intake knows, or common personal-data field names, are echoed; other cells by position.
    @Test func identifierShapedValuesInTheFirstLineAreNeverEchoed() throws {
        let directory = try IntakeFixture.directory()
        let cases: [(kind: String, text: String, secret: String)] = [
            ("contacts", "alice,+33612345678\nbob,+33698765432\n", "alice"),
            ("messages", "phone,rendezvous\n+33612345678,x\n", "rendezvous"),
            ("messages", "+33612345678,bonjour\n", "bonjour"),
        ]
        for (index, item) in cases.enumerated() {
            let file = try IntakeFixture.write(item.text, name: "first\(index).csv", in: directory)
            for arguments in [["--log-format", "json", "-v"], ["--json"], []] {
                let outcome = try LetheProcess.run(["validate", item.kind, file] + arguments)
                #expect(outcome.status == 65, "\(outcome.stdout)")
                #expect(!(outcome.stdout + outcome.stderr).contains(item.secret), "\(item.secret) echoed: \(outcome.stdout)\(outcome.stderr)")
            }
        }
        let named = try LetheProcess.run(["validate", "messages", try IntakeFixture.write("phone,rendezvous\n+33612345678,x\n", name: "col.csv", in: directory)])
        #expect(named.stdout.contains("column 2 is not a known field"), "\(named.stdout)")
        // A common personal-data field name is still named, so that the refusal teaches which column to drop.
        let email = try LetheProcess.run(["validate", "messages", try IntakeFixture.write("phone,message,email\n+33612345678,x,a@b.c\n", name: "email.csv", in: directory)])
        #expect(email.status == 65 && email.stdout.contains("unknown field 'email'"), "\(email.stdout)")
    }

    /// A field far longer than any SMS (128 MB here; 200 MB took 458 MB and two minutes): refused at the first byte
    /// past the policy's longest message, exit 65, in bounded memory, for CSV and JSON lines alike.
    @Test func aFieldLongerThanAnyMessageIsRefusedBeforeItIsHeld() throws {
        let directory = try IntakeFixture.directory()
        let huge = Data(repeating: UInt8(ascii: "a"), count: 128 << 20)
        let csv = directory + "/huge.csv", jsonl = directory + "/huge.jsonl"
        try (Data("phone,message\n+33612345678,".utf8) + huge + Data("\n".utf8)).write(to: URL(fileURLWithPath: csv))
        try (Data("{\"phone\": \"+33612345678\", \"message\": \"".utf8) + huge + Data("\"}\n".utf8)).write(to: URL(fileURLWithPath: jsonl))
        defer { for file in [csv, jsonl] { try? FileManager.default.removeItem(atPath: file) } }
        for file in [csv, jsonl] {
            let timed = try LetheProcess.run(["-f", "peak-rss-kb %M", LetheProcess.binary, "validate", "messages", file], executable: "/usr/bin/time")
            #expect(timed.status == 65 && timed.stderr.contains("longer than 6400 bytes") && timed.stderr.contains("HINT:"), "\(timed.stderr)")
            let peak = try #require(timed.stderr.split(separator: "\n").last { $0.hasPrefix("peak-rss-kb ") }.flatMap { Int($0.dropFirst(12)) })
            #expect(peak < 100_000, "\(file): peak resident memory \(peak) KB")
        }
        // The longest real message still passes: ten segments of UCS-2 text.
        let longest = try IntakeFixture.write("phone,message\n+33612345678," + String(repeating: "é", count: 600) + "\n", name: "long.csv", in: directory)
        #expect(try LetheProcess.run(["validate", "messages", longest]).status == 0)
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

    /// A bare CR inside an unquoted field is an error naming the line, not a byte silently dropped from the value
    /// (issue 29); inside quotes it is part of the value, and CRLF still ends a line.
    @Test func aBareCarriageReturnOutsideQuotesIsRefused() throws {
        let directory = try IntakeFixture.directory()
        let bare = try IntakeFixture.write("phone,message\r\n+33612345678,bon\rjour\r\n", name: "bare-cr.csv", in: directory)
        let refused = try LetheProcess.run(["validate", "messages", bare])
        #expect(refused.status == 65 && refused.stderr.contains("line 2") && refused.stderr.contains("carriage return") && refused.stderr.contains("HINT:"),
                "\(refused.stderr)")
        #expect(!refused.stderr.contains("bon") && !refused.stderr.contains("+33612345678"))
        let quoted = try IntakeFixture.write("phone,message\r\n+33612345678,\"bon\rjour\"\r\n", name: "quoted-cr.csv", in: directory)
        let accepted = try LetheProcess.run(["validate", "messages", quoted])
        #expect(accepted.status == 0 && accepted.stdout.contains("1 rows read, 1 valid"), "\(accepted.stdout)\(accepted.stderr)")
    }

    /// A phone made only of whitespace is reported missing: tab and the space separators (Unicode category Zs:
    /// no-break, ideographic, thin…), the set `CharacterSet.whitespaces` documents. Zero-width and control
    /// characters are not whitespace: such a phone is checked as a number, and refused as one.
    @Test func aPhoneOfWhitespaceIsMissing() throws {
        let phones: [(String, Bool)] = [
            (" ", true), ("\t", true), ("  \t ", true), ("\u{00A0}", true), ("\u{3000}", true), ("\u{2009}\u{202F}", true),
            ("\u{200B}", false), ("\u{FEFF}", false), ("\u{85}", false), (" 0\u{00A0}", false),
        ]
        let directory = try IntakeFixture.directory()
        let file = try IntakeFixture.write("phone,message\n" + phones.map { "\"\($0.0)\",bonjour\n" }.joined(), name: "blank.csv", in: directory)
        let outcome = try LetheProcess.run(["validate", "messages", file, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let problems = report["problems"] as? [[String: Any]] ?? []
        for (index, (_, blank)) in phones.enumerated() {
            let line = index + 2
            let reason = problems.first { $0["line"] as? Int == line }?["reason"] as? String
            #expect(reason != nil, "line \(line) was accepted")
            #expect((reason == "missing") == blank, "line \(line): \(reason ?? "no problem")")
        }
    }
}
