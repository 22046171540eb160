import Foundation
import Intake
import Keys
import LetheCore
import Phone
import Policy
import Postgres
import TestSupport
import Testing

@Suite struct ImporterTests {
    func setUp() throws -> (TestDatabase, RetentionPolicy, Keyring, String) {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet Medical'), (2, 'Relais Colis')")
        let directory = try IntakeFixture.directory()
        let keyring = try Keyring.create(at: directory + "/keyring")
        return (db, try PolicyFixture.monthlyPolicy(), keyring, directory)
    }

    /// The file's SHA-256 is hashed while it is parsed (one read): over many 64 KiB blocks it is sha256sum's.
    @Test func theRecordedDigestIsTheFilesOverManyBlocks() throws {
        let (db, policy, keyring, directory) = try setUp()
        let rows = (0..<6000).map { "+336123\(String(format: "%05d", $0)),Message numéro \($0) pour vérifier le hachage en un seul passage" }
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(rows: rows), name: "big.csv", in: directory)
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0 > 4 * 65_536)
        let report = try Importer(policy: policy).run(kind: .messages, path: file, customer: 1, options: ImportOptions(), db: db.connection, keyring: keyring)
        #expect(report.rowsWritten == 6000)
        let sha = Process()
        sha.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sha.arguments = [file]
        let out = Pipe()
        sha.standardOutput = out
        try sha.run()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ").first.map(String.init)
        sha.waitUntilExit()
        #expect(try db.connection.query("SELECT file_sha256 FROM lethe.imports").single("import").string("file_sha256") == expected)
    }

    @Test func importedValuesAreSealedAndReadBack() throws {
        let (db, policy, keyring, directory) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        let report = try Importer(policy: policy).run(kind: .messages, path: file, customer: 1, options: ImportOptions(), db: db.connection, keyring: keyring)
        #expect(report.outcome == .imported && report.rowsWritten == 3)
        var dump = [UInt8]()
        try db.connection.copyOut("COPY (SELECT * FROM sms.messages) TO STDOUT") { dump += $0 }
        let text = String(decoding: dump, as: UTF8.self)
        for person in IntakeFixture.people {
            for needle in [person.e164, person.digits, person.national, "Mercier", "Zanzibar", "Pelican", "884213"] {
                #expect(!text.contains(needle))
            }
        }
        let vault = try Vault(db: db.connection, keyring: keyring)
        let rows = try db.connection.query("SELECT id, recipient, body, encoding, segments FROM sms.messages ORDER BY id").rows
        let phones = try rows.map { String(decoding: try vault.open($0.bytes("recipient"), EnvelopeContext(table: "sms.messages", column: "recipient", customer: 1), row: $0.int("id")), as: UTF8.self) }
        #expect(phones == IntakeFixture.people.map(\.e164))
        let bodies = try rows.map { String(decoding: try vault.open($0.bytes("body"), EnvelopeContext(table: "sms.messages", column: "body", customer: 1), row: $0.int("id")), as: UTF8.self) }
        #expect(bodies == IntakeFixture.people.map(\.message))
        #expect(try rows.map { try $0.string("encoding") } == ["ucs2", "gsm7", "gsm7"])
    }

    @Test func blindIndexFindsTheRowsOfANumber() throws {
        let (db, policy, keyring, directory) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        _ = try Importer(policy: policy).run(kind: .messages, path: file, customer: 1, options: ImportOptions(), db: db.connection, keyring: keyring)
        let vault = try Vault(db: db.connection, keyring: keyring)
        let tag = try vault.blindIndex.tag(try PhoneNumber(parsing: "+33 7 98 76 54 32", defaultRegion: "FR"))
        let found = try db.connection.query("SELECT count(*) AS n FROM sms.messages WHERE recipient_bidx = $1", [.bytes(tag)]).single("n").int("n")
        #expect(found == 1)
    }

    /// Blind indexes are remembered across the import's workers: every row's is still its own number's, for numbers
    /// met once and numbers met again by another worker.
    @Test func everyRowsBlindIndexIsItsNumbersWithRepeatsAcrossWorkers() throws {
        let (db, policy, keyring, directory) = try setUp()
        let rows = (0..<6_000).map { "0612\(String(format: "%06d", ($0 * 7_919) % 1_500)),message \($0)" }
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(rows: rows), name: "repeats.csv", in: directory)
        let report = try Importer(policy: policy).run(kind: .messages, path: file, customer: 1, options: ImportOptions(jobs: 4),
                                                      db: db.connection, keyring: keyring)
        #expect(report.rowsWritten == 6_000)
        let vault = try Vault(db: db.connection, keyring: keyring)
        var wrong = 0
        for row in try db.connection.query("SELECT id, recipient, recipient_bidx FROM sms.messages").rows {
            let id = try row.int("id")
            let recipient = try vault.open(try row.bytes("recipient"), EnvelopeContext(table: "sms.messages", column: "recipient", customer: 1), row: id)
            let number = try PhoneNumber(parsing: String(decoding: recipient, as: UTF8.self), defaultRegion: "FR")
            if try vault.blindIndex.tag(number) != (try row.bytes("recipient_bidx")) { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    @Test func unknownFieldRefusesTheWholeFile() throws {
        let (db, policy, keyring, directory) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(extraHeader: "email"), name: "m.csv", in: directory)
        let report = try Importer(policy: policy).run(kind: .messages, path: file, customer: 1, options: ImportOptions(), db: db.connection, keyring: keyring)
        #expect(report.outcome == .refused)
        #expect(report.unknownFields.map(\.field) == ["email"] && report.unknownFields.first?.lines == [1])
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)
    }

    @Test func invalidRowsAreReportedByLineAndNothingIsWritten() throws {
        let (db, policy, keyring, directory) = try setUp()
        var rows = (1...5).map { "0612345\(String(format: "%03d", $0)),hello \($0)" }
        rows.append("12,bad number")       // line 7
        rows.append("0612345999,")         // line 8: empty message
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(rows: rows), name: "m.csv", in: directory)
        let importer = Importer(policy: policy)
        let refused = try importer.run(kind: .messages, path: file, customer: 1, options: ImportOptions(), db: db.connection, keyring: keyring)
        #expect(refused.outcome == .refused)
        #expect(refused.problems.map(\.line) == [7, 8])
        #expect(refused.problems[0].field == "phone")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)
        let skipped = try importer.run(kind: .messages, path: file, customer: 1, options: ImportOptions(skipInvalid: true), db: db.connection, keyring: keyring)
        #expect(skipped.outcome == .imported && skipped.rowsWritten == 5 && skipped.problemCount == 2)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 5)
    }

    @Test func sentAtIsKeptAndBoundedAndJSONLWorks() throws {
        let (db, policy, keyring, directory) = try setUp()
        let lines = [
            #"{"phone": "+33612345678", "message": "backfilled", "sent_at": "\#(Timestamps.iso(Date().addingTimeInterval(-20 * 86400)))"}"#,
            #"{"phone": "+33612345678", "message": "future", "sent_at": "2099-01-01T00:00:00Z"}"#,
            #"{"phone": "+33612345678", "message": "too old", "sent_at": "2001-01-01T00:00:00Z"}"#,
            #"{"phone": "+33612345678", "message": "naive", "sent_at": "2026-01-01 10:00"}"#,
        ].joined(separator: "\n")
        let file = try IntakeFixture.write(lines, name: "m.jsonl", in: directory)
        let report = try Importer(policy: policy).run(kind: .messages, path: file, customer: 1, options: ImportOptions(skipInvalid: true), db: db.connection, keyring: keyring)
        #expect(report.rowsWritten == 1)
        #expect(report.problems.map(\.line) == [2, 3, 4])
        let age = try db.connection.query("SELECT round(extract(epoch FROM now() - created_at) / 86400)::int AS days FROM sms.messages").single("age").int("days")
        #expect(age == 20)
    }

    @Test func contactsWithNames() throws {
        let (db, policy, keyring, directory) = try setUp()
        let file = try IntakeFixture.write("phone,name\n+49 30 123456,Erika Mustermann\n0612345678,\n", name: "c.csv", in: directory)
        let report = try Importer(policy: policy).run(kind: .contacts, path: file, customer: 2, options: ImportOptions(), db: db.connection, keyring: keyring)
        #expect(report.rowsWritten == 2)
        let names = try db.connection.query("SELECT name IS NULL AS anonymous FROM sms.contacts ORDER BY id").rows.map { try $0.bool("anonymous") }
        #expect(names == [false, true])
    }
}
