import Foundation
import Postgres
import TestSupport
import Testing

/// The DPO's commands run as the binary: exit codes, files and their modes, and what reaches stdout, stderr and logs.
@Suite struct SubjectCommandTests {
    static let alice = (national: "06 12 34 56 78", e164: "+33612345678", digits: "612345678")
    static let secrets = ["+33612345678", "612345678", "06 12 34 56 78", "0612345678", "Mercier", "Zanzibar", "Lavande", "Pelican", "+33798765432"]

    func setUp() throws -> (TestDatabase, String, [String]) {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais'), (3, 'Atelier')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        let files: [(String, String, String)] = [
            ("messages", "1", "phone,message\n\"\(Self.alice.national)\",\"Rendez-vous chez Dr Mercier\"\n"),
            ("messages", "2", "phone,message\n\(Self.alice.e164),Colis Zanzibar arrivé\n+33798765432,Autre personne\n"),
            ("contacts", "1", "phone,name\n\(Self.alice.e164),Alice Lavande\n"),
            ("contacts", "3", "phone,name\n07 98 76 54 32,Bob Pelican\n"),
        ]
        for (index, (kind, customer, csv)) in files.enumerated() {
            let file = try IntakeFixture.write(csv, name: "\(kind)-\(index).csv", in: directory)
            #expect(try LetheProcess.run(["import", kind, file, "--customer", customer] + common).status == 0)
        }
        try db.connection.execute("INSERT INTO sms.delivery_reports (message_id, customer_id, status) SELECT id, customer_id, 'delivered' FROM sms.messages")
        return (db, directory, common)
    }

    func leaks(_ outcomes: LetheProcess.Outcome...) -> [String] {
        let all = outcomes.map { $0.stdout + $0.stderr }.joined()
        return Self.secrets.filter { all.contains($0) }
    }

    /// An export directory open to others is made private but keeps its sticky and setgid bits; a shared one
    /// (world-writable and sticky, like /tmp) is refused rather than made private under its other users.
    @Test func exportDirectoriesKeepTheirSpecialBitsAndSharedOnesAreRefused() throws {
        let (db, directory, common) = try setUp()
        defer { withExtendedLifetime(db) {} }
        let group = directory + "/setgid", shared = directory + "/shared"
        for (path, mode) in [(group, 0o2770), (shared, 0o1777)] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            #expect(chmod(path, mode_t(mode)) == 0)
        }
        let export = try LetheProcess.run(["subject", "export", "--phone", Self.alice.e164, "--out", group] + common)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: group)[.posixPermissions] as? Int == 0o2700, "group and others lose access; setgid stays")
        let refused = try LetheProcess.run(["subject", "export", "--phone", Self.alice.e164, "--out", shared] + common)
        #expect(refused.status == 73 && refused.stderr.contains("shared directory") && refused.stderr.contains("HINT:"), "\(refused.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: shared)[.posixPermissions] as? Int == 0o1777, "left as it was")
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)
        #expect(leaks(export, refused).isEmpty)
    }

    @Test func exportWritesPrivateFilesAndPrintsOnlyCounts() throws {
        let (db, directory, common) = try setUp()
        defer { withExtendedLifetime(db) {} }
        let opened = try LetheProcess.run(["requests", "open", "--kind", "access", "--reference", "DPO-41", "--database-url", db.conninfo])
        #expect(opened.status == 0 && opened.stdout.contains("request 1 "))
        let out = directory + "/dpo"
        let export = try LetheProcess.run(["subject", "export", "--phone", "-", "--out", out, "--request", "1", "--log-format", "json", "-v"] + common,
                                          stdin: Self.alice.e164 + "\n")
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("exported 5 row(s) for request 1"))
        #expect(export.stderr.contains("\"subject export written\"") || export.stderr.contains("subject export written"), "the JSON log ran")
        #expect(leaks(export).isEmpty, "\(leaks(export))")
        for name in ["subject-1.json", "subject-1.md"] {
            let mode = try FileManager.default.attributesOfItem(atPath: out + "/" + name)[.posixPermissions] as! Int
            #expect(mode == 0o600, "\(name)")
        }
        let json = try String(contentsOfFile: out + "/subject-1.json", encoding: .utf8)
        #expect(json.contains("Mercier") && json.contains("Zanzibar") && !json.contains("Pelican") && !json.contains("Autre personne"))
        // Closed by the export: answering it again is refused.
        let again = try LetheProcess.run(["subject", "export", "--phone", Self.alice.national, "--out", out, "--request", "1"] + common)
        #expect(again.status == 65 && again.stderr.contains("already closed") && leaks(again).isEmpty)
        // A wrong number is refused without echoing it.
        let bad = try LetheProcess.run(["subject", "export", "--phone", "+33 0 00 00 612345678", "--out", out, "--log-format", "json"] + common)
        #expect(bad.status == 65 && leaks(bad).isEmpty)
        let customer = try LetheProcess.run(["customer", "export", "--customer", "2", "--out", directory + "/portability"] + common)
        #expect(customer.status == 0 && customer.stdout.contains("sms.messages          2") && leaks(customer).isEmpty, "\(customer.stdout)")
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/portability/customer-2.json")[.posixPermissions] as! Int
        #expect(mode == 0o600)
    }

    @Test func eraseUnderHoldKeepsTheHeldRowsThenErasesAndARestoreDoesNotBringThePersonBack() throws {
        let (db, directory, common) = try setUp()
        defer { withExtendedLifetime(db) {} }
        let repo = ["--repo", directory + "/repo"]
        #expect(try LetheProcess.run(["backup"] + common + repo).status == 0)
        let backupId = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").first { $0.hasSuffix(".lethe-backup") }!
            .replacingOccurrences(of: ".lethe-backup", with: "")

        #expect(try LetheProcess.run(["hold", "add", "--customer", "2", "--reason", "Enquête 118", "--database-url", db.conninfo]).status == 0)
        // Under a hold the plan keeps the held customer's rows and erases the rest: 80, and it says which.
        let held = try LetheProcess.run(["subject", "erase", "--phone", Self.alice.e164, "--dry-run"] + common)
        #expect(held.status == 80 && held.stderr.contains("under legal hold") && held.stderr.contains("HINT:"), "\(held.stderr)")
        #expect(held.stdout.contains("would keep") && held.stdout.contains("customer 2 is under legal hold 1") && leaks(held).isEmpty, "\(held.stdout)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 3)
        #expect(try LetheProcess.run(["hold", "release", "--customer", "2", "--database-url", db.conninfo]).status == 0)

        #expect(try LetheProcess.run(["requests", "open", "--kind", "erasure", "--reference", "DPO-42", "--database-url", db.conninfo]).status == 0)
        let dry = try LetheProcess.run(["subject", "erase", "--phone", "-", "--request", "1", "--dry-run"] + common, stdin: Self.alice.national)
        #expect(dry.status == 0 && dry.stdout.contains("would erase 5 row(s)"))
        let erased = try LetheProcess.run(["subject", "erase", "--phone", "-", "--request", "1", "--out", directory + "/receipts", "--json"] + common,
                                          stdin: Self.alice.national)
        #expect(erased.status == 0, "\(erased.stderr)")
        #expect(erased.stdout.contains("\"totalRows\" : 5") && leaks(erased).isEmpty)
        let receipt = directory + "/receipts/erasure-request-1.json"
        #expect(try FileManager.default.attributesOfItem(atPath: receipt)[.posixPermissions] as! Int == 0o600)
        #expect(try String(contentsOfFile: receipt, encoding: .utf8).contains("\"sms.messages\" : 2"))
        let after = try LetheProcess.run(["subject", "export", "--phone", Self.alice.e164, "--out", directory + "/after"] + common)
        #expect(after.status == 0 && after.stdout.contains("exported 0 row(s)"))

        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", backupId, "--target-database", target.conninfo] + common + repo)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("erasures replayed: 1 erasure(s) of the live database applied again, 3 row(s) erased again"), "\(restore.stdout)")
        #expect(try target.connection.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") == 1, "only Bob's contact")
        #expect(try target.connection.query("SELECT count(*) AS n FROM sms.delivery_reports").single("n").int("n") == 1, "only the other person's report")
        #expect(try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo]).status == 0)
    }
}

@Suite struct ExportAuditOrderTests {
    /// A role that may read but not write the audit log: the export fails with exit 77 and a HINT, and no decrypted
    /// file is left behind, under its name or a temporary one.
    @Test func anExportWhoseAuditRecordFailsLeavesNoFile() throws {
        let (db, directory, common) = try SubjectCommandTests().setUp()
        try db.connection.execute("""
            CREATE FUNCTION lethe.deny_audit() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied for table audit_log'; END $$
            """)
        try db.connection.execute("CREATE TRIGGER deny BEFORE INSERT ON lethe.audit_log FOR EACH ROW EXECUTE FUNCTION lethe.deny_audit()")
        for arguments in [["subject", "export", "--phone", SubjectCommandTests.alice.e164, "--out", directory + "/dpo"],
                          ["customer", "export", "--customer", "2", "--out", directory + "/portability"]] {
            let outcome = try LetheProcess.run(arguments + common)
            #expect(outcome.status == 77, "\(arguments[0]): \(outcome.stderr)")
            #expect(outcome.stderr.contains("HINT:"))
            let left = (try? FileManager.default.contentsOfDirectory(atPath: arguments[arguments.count - 1])) ?? []
            #expect(left.isEmpty, "\(arguments[0]) left \(left)")
        }
    }
}
