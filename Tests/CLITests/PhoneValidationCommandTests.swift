import Foundation
import Postgres
import TestSupport
import Testing

@Suite struct PhoneValidationCommandTests {
    /// +221 71: a Senegalese mobile range opened after the metadata of Debian's libphonenumber 8.12.57.
    static let newRange = "+221710756589"

    func policy(_ extra: String) throws -> String {
        let text = try String(contentsOfFile: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "phone_validation: length\n", with: "\(extra)\n")
        let path = try IntakeFixture.directory(prefix: "lethe-phone") + "/policy.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aNumberFromANewRangeImportsByLengthAndIsFoundAgain() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet Medical')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", keyring]
        let file = try IntakeFixture.write("phone,message\n\(Self.newRange),Dalal ak jamm\n+33612345678,bonjour\n", name: "sn.csv", in: directory)

        // ranges mode: refused, whole file, nothing written.
        let strict = try policy("phone_validation: ranges")
        let refused = try LetheProcess.run(["import", "messages", file, "--customer", "1", "--policy", strict] + common)
        #expect(refused.status == 65 && refused.stdout.contains("line 2: phone: not a valid number for its region"), "\(refused.stdout)")
        // ranges mode with the operator's range: imported.
        let declared = try policy("phone_validation: ranges\nphone_ranges:\n  - { prefix: \"+22171\", lengths: [12] }")
        #expect(try LetheProcess.run(["validate", "messages", file, "--policy", declared]).status == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)

        // length mode (the default): imported, counted, never printed.
        let imported = try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common)
        #expect(imported.status == 0, "\(imported.stdout)\(imported.stderr)")
        #expect(imported.stdout.contains("1 numbers from ranges this metadata does not know"))
        #expect(!imported.stdout.contains("710756589") && !imported.stderr.contains("710756589"))
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 2)

        // The DPO finds the person by any form of the number.
        let out = directory + "/out"
        let export = try LetheProcess.run(["subject", "export", "--phone", "+221 71 075 65 89", "--out", out] + common)
        #expect(export.status == 0, "\(export.stderr)")
        let exported = try FileManager.default.contentsOfDirectory(atPath: out).first { $0.hasSuffix(".json") }.map {
            try String(contentsOfFile: out + "/" + $0, encoding: .utf8)
        } ?? ""
        #expect(exported.contains("Dalal ak jamm") && !exported.contains("bonjour"))
    }

    /// Issue 30, what to build 4: with `phone_without_plus: international` and `short_codes: accept`, a gateway's
    /// spellings import, are counted, and the person is found again by the number written with its `+`.
    @Test func numbersWithoutPlusAndShortCodesImportByPolicyAndAreFoundAgain() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Passerelle')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", keyring]
        let file = try IntakeFixture.write("phone,message\n447911123456,Cheers mate\n36180,STOP\n+33612345678,bonjour\n", name: "gw.csv", in: directory)
        let refused = try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common)
        #expect(refused.status == 65, "refused by default: \(refused.stdout)")
        let gateway = try policy("phone_validation: length\nphone_without_plus: international\nshort_codes: accept")
        let imported = try LetheProcess.run(["import", "messages", file, "--customer", "1", "--policy", gateway] + common)
        #expect(imported.status == 0, "\(imported.stdout)\(imported.stderr)")
        #expect(imported.stdout.contains("1 numbers written without their +") && imported.stdout.contains("1 short codes"), "\(imported.stdout)")
        #expect(!imported.stdout.contains("7911123456") && !imported.stderr.contains("7911123456"))
        let out = directory + "/out"
        let export = try LetheProcess.run(["subject", "export", "--phone", "+44 7911 123456", "--out", out, "--policy", gateway] + common)
        #expect(export.status == 0, "\(export.stderr)")
        let exported = try FileManager.default.contentsOfDirectory(atPath: out).first { $0.hasSuffix(".json") }.map {
            try String(contentsOfFile: out + "/" + $0, encoding: .utf8)
        } ?? ""
        #expect(exported.contains("Cheers mate") && !exported.contains("bonjour"))
        let erase = try LetheProcess.run(["subject", "erase", "--phone", "447911123456", "--policy", gateway] + common)
        #expect(erase.status == 0 && erase.stdout.contains("erased 1 row(s)"), "the gateway's spelling erases the same person: \(erase.stdout) \(erase.stderr)")
        #expect(try LetheProcess.run(["policy", "check", gateway, "--offline"]).status == 0)
        let bad = try policy("phone_validation: length\nshort_codes: maybe")
        #expect(try LetheProcess.run(["policy", "check", bad, "--offline"]).status == 65)
    }

    @Test func versionInfoNamesTheLibraryAndItsAge() throws {
        let info = try LetheProcess.run(["validate", "--version-info"])
        #expect(info.status == 0)
        #expect(info.stdout.contains("libphonenumber 8.") && info.stdout.contains("built 20"), "\(info.stdout)")
        #expect(info.stdout.contains("phone_validation: length"))
    }

    @Test func policyCheckRefusesABadModeOrRange() throws {
        for extra in ["phone_validation: loose", "phone_ranges:\n  - { prefix: \"22171\", lengths: [12] }",
                      "phone_ranges:\n  - { prefix: \"+22171\", lengths: [30] }"] {
            let path = try policy(extra)
            #expect(try LetheProcess.run(["policy", "check", path, "--offline"]).status == 65, "\(extra)")
        }
    }

    /// The default mode against current numbering-plan metadata: the `phonenumbers` package (9.0.43, the Python
    /// port of libphonenumber) judges a deterministic sample of 4,000+ numbers from 30 countries; none that it
    /// calls valid may be refused.
    @Test func noValidNumberIsRefusedByDefault() throws {
        let directory = try IntakeFixture.directory()
        let oracle = Process()
        oracle.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        oracle.arguments = ["python3", LetheProcess.packageRoot.appendingPathComponent("scripts/phone-oracle.py").path, "40"]
        let pipe = Pipe()
        oracle.standardOutput = pipe
        try oracle.run()
        let csv = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        oracle.waitUntilExit()
        #expect(oracle.terminationStatus == 0, "scripts/phone-oracle.py needs python3 and phonenumbers (make deps installs them)")
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.count >= 4_000 && Set(rows.map { $0[1] }).count >= 20)
        let input = "phone,message\n" + rows.map { "\($0[0]),hello" }.joined(separator: "\n") + "\n"
        let file = try IntakeFixture.write(input, name: "oracle.csv", in: directory)
        let outcome = try LetheProcess.run(["validate", "messages", file, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let refusedLines = Set((report["problems"] as? [[String: Any]] ?? []).compactMap { $0["line"] as? Int })
        #expect((report["problemCount"] as? Int ?? 0) == refusedLines.count, "every refusal is listed")
        let validRefused = rows.enumerated().filter { $0.element[3] == "1" && refusedLines.contains($0.offset + 2) }
        #expect(validRefused.isEmpty, "\(validRefused.count) valid numbers refused")
        let invalidAccepted = rows.enumerated().filter { $0.element[3] == "0" && !refusedLines.contains($0.offset + 2) }.count
        // The length rule's price, written down so a change shows: mutated numbers of a possible length in unassigned ranges.
        #expect(invalidAccepted < rows.count / 10)
    }
}

@Suite struct BlindIndexParameterTests {
    /// A policy whose blind_index_bits differs from the length the database's blind indexes were computed with is
    /// refused by keyed commands (exit 78) before any search: an erasure would otherwise erase nobody, with exit 0.
    @Test func aChangedBlindIndexLengthIsRefused() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet Medical')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        let file = try IntakeFixture.write("phone,message\n+33612345678,bonjour\n", name: "m.csv", in: directory)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common).status == 0)
        let text = try String(contentsOfFile: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "version: 1\n", with: "version: 1\nblind_index_bits: 16\n")
        let policy = directory + "/bits16.yaml"
        try text.write(toFile: policy, atomically: true, encoding: .utf8)
        let erase = try LetheProcess.run(["subject", "erase", "--phone", "+33612345678", "--policy", policy] + common)
        #expect(erase.status == 78 && erase.stderr.contains("blind_index_bits (16) differs from the 32 bits"), "\(erase.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 1)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "1", "--policy", policy] + common).status == 78)
    }
}
