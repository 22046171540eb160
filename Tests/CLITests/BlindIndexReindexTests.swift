import Foundation
import Postgres
import TestSupport
import Testing

/// A new blind-index length: refused until `keys reindex` has run, refused by every other keyed command while it
/// runs, then lookups, erasures and restores of older backups work at the new length.
@Suite struct BlindIndexReindexTests {
    @Test func aChangedLengthIsRefusedUntilReindexedThenLookupsErasuresAndRestoresWork() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        let repo = ["--repo", directory + "/repo"]
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        let contacts = try IntakeFixture.write("phone,name\n\(IntakeFixture.people[0].e164),A\n\(IntakeFixture.people[1].e164),B\n", name: "c.csv", in: directory)
        for customer in ["1", "2"] {
            #expect(try LetheProcess.run(["import", "messages", file, "--customer", customer] + common).status == 0)
            #expect(try LetheProcess.run(["import", "contacts", contacts, "--customer", customer] + common).status == 0)
        }
        #expect(try LetheProcess.run(["backup"] + common + repo).status == 0)
        let defaultText = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
        let short = ["--policy", try IntakeFixture.write("blind_index_bits: 24\n" + defaultText, name: "short.yaml", in: directory)]
        let person = IntakeFixture.people[0], other = IntakeFixture.people[1]

        let refused = try LetheProcess.run(["subject", "export", "--phone", person.e164, "--out", directory + "/x"] + common + short)
        #expect(refused.status == 78 && refused.stderr.contains("keys reindex --bits 24"), "\(refused.stderr)")
        let dry = try LetheProcess.run(["keys", "reindex", "--bits", "24", "--dry-run"] + common)
        #expect(dry.status == 0 && dry.stdout.contains("sms.messages: 6 row(s) to re-index"), "\(dry.stdout)\(dry.stderr)")

        // While a re-index is under way, other keyed commands refuse rather than find nobody.
        try db.connection.execute("UPDATE lethe.blind_index_parameters SET reindex_to = 24")
        let during = try LetheProcess.run(["subject", "erase", "--phone", person.e164] + common)
        #expect(during.status == 75 && during.stderr.contains("in progress"), "\(during.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 6)

        let run = try LetheProcess.run(["keys", "reindex", "--bits", "24"] + common)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.connection.query("SELECT bits FROM lethe.blind_index_parameters WHERE reindex_to IS NULL").single("bits").int("bits") == 24)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages WHERE length(recipient_bidx) = 3").single("n").int("n") == 6)
        #expect(try LetheProcess.run(["encrypt", "verify"] + common + short).status == 0, "every index is its number's at 24 bits")
        let export = try LetheProcess.run(["subject", "export", "--phone", person.e164, "--out", directory + "/after"] + common + short)
        #expect(export.status == 0 && export.stdout.contains("exported 4 row(s)"), "\(export.stdout)\(export.stderr)")
        let erase = try LetheProcess.run(["subject", "erase", "--phone", other.e164] + common + short)
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 4)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") == 2)
        #expect(try LetheProcess.run(["subject", "export", "--phone", person.e164, "--out", directory + "/y"] + common).status == 78,
                "the old length is refused now")

        // The backup (contacts; messages are kept out of backups) predates the re-index: the restore re-indexes
        // it, then replays the erasure.
        let target = try TestDatabase(migrated: false)
        let restored = try LetheProcess.run(["restore", try backupId(directory), "--target-database", target.conninfo] + common + repo + short)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try target.connection.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") == 2, "the erased person stays erased")
        #expect(try target.connection.query("SELECT bits FROM lethe.blind_index_parameters").single("bits").int("bits") == 24)
        #expect(try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo]).status == 0)
    }

    func backupId(_ directory: String) throws -> String {
        try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").first { $0.hasSuffix(".lethe-backup") })
            .replacingOccurrences(of: ".lethe-backup", with: "")
    }
}
