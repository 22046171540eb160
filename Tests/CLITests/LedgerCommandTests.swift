import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 32 through the binary: the ledger a restore replays from when the live database is unreachable, a
/// tampered, cut or reordered ledger refused (79) before anything changes, and a ledger behind the database
/// reported and never "fixed" by deleting anything.
@Suite struct LedgerCommandTests {
    struct Setup {
        let db: TestDatabase
        let directory: String
        let common: [String]
        let environment: [String: String]
        var ledger: String { directory + "/ledger" }
    }

    func setUp(messages: Bool = true) throws -> Setup {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais'), (3, 'Atelier')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let environment = ["LETHE_LEDGER": directory + "/ledger", "LETHE_LEDGER_KEY": directory + "/ledger.key"]
        #expect(try LetheProcess.run(["ledger", "init", "--keyring", directory + "/keyring"], environment: environment).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        for customer in messages ? ["1", "2"] : [] {
            let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m\(customer).csv", in: directory)
            #expect(try LetheProcess.run(["import", "messages", file, "--customer", customer] + common).status == 0)
        }
        return Setup(db: db, directory: directory, common: common, environment: environment)
    }

    func count(_ db: PostgresConnection, _ sql: SQL) throws -> Int64 { try db.query(sql).single("count").int("n") }

    @Test func aRestoreWithTheLiveDatabaseUnreachableReplaysFromTheLedger() throws {
        let setup = try setUp()
        let repo = ["--repo", setup.directory + "/repo"]
        #expect(try LetheProcess.run(["backup"] + setup.common + repo).status == 0)
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: setup.directory + "/repo").first { $0.hasSuffix(".lethe-backup") })
            .replacingOccurrences(of: ".lethe-backup", with: "")
        let person = IntakeFixture.people[0]
        #expect(try LetheProcess.run(["subject", "erase", "--phone", person.e164] + setup.common, environment: setup.environment).status == 0)
        #expect(try LetheProcess.run(["customer", "shred", "--customer", "2", "--yes", "--database-url", setup.db.conninfo], environment: setup.environment).status == 0)
        #expect(try LetheProcess.run(["retention", "set", "--customer", "1", "--period", "P1M", "--reason", "contract", "--database-url", setup.db.conninfo],
                                     environment: setup.environment).status == 0)
        let erased = try setup.db.connection.query("SELECT array_agg(row_id)::text AS ids FROM lethe.tombstone_rows WHERE table_name = 'sms.messages'").single("ids").string("ids")

        let target = try TestDatabase(migrated: false)
        let unreachable = setup.common.removing(option: "--database-url") + ["--database-url", "host=127.0.0.1 port=1 connect_timeout=2"] + repo
        let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + unreachable, environment: setup.environment)
        #expect(restore.status == 0 && restore.stdout.contains("erasures replayed from the ledger") && restore.stdout.contains("3 record(s) re-applied"),
                "no --without-erasure-replay needed: \(restore.stdout)\n\(restore.stderr)")
        #expect(try count(target.connection, "SELECT count(*) AS n FROM sms.messages WHERE id = ANY (\(.text(erased))::bigint[])") == 0, "the erased person stays erased")
        #expect(try count(target.connection, "SELECT count(*) AS n FROM lethe.customer_keys WHERE customer_id = 2 AND wrapped IS NOT NULL") == 0)
        #expect(try count(target.connection, "SELECT count(*) AS n FROM lethe.retention_overrides WHERE customer_id = 1 AND period = 'P1M'") == 1)
        let verify = try LetheProcess.run(["ledger", "verify", "--database-url", target.conninfo], environment: setup.environment)
        #expect(verify.status == 0 && verify.stdout.contains("in step"), "the restored database is in step with the ledger: \(verify.stdout)")
        let audit = try target.connection.query("SELECT details->>'erasures_replay_skipped' AS skipped FROM lethe.audit_log WHERE action = 'restore'").single("audit").string("skipped")
        #expect(audit == "false")
    }

    /// A database rolled back by hand (what a physical restore does to Lethe's registers), and its ledger altered.
    @Test func aTamperedCutOrReorderedLedgerIsRefusedAndChangesNothing() throws {
        let setup = try setUp(messages: false)
        let keyless = ["--database-url", setup.db.conninfo]
        for arguments in [["retention", "set", "--customer", "1", "--period", "P1M", "--reason", "contract"], ["hold", "add", "--customer", "2", "--reason", "case 7"],
                          ["hold", "release", "--customer", "2"], ["retention", "set", "--customer", "3", "--period", "P2M", "--reason", "contract"]] {
            let outcome = try LetheProcess.run(arguments + keyless, environment: setup.environment)
            #expect(outcome.status == 0, "\(arguments): \(outcome.stderr)")
        }
        try setup.db.connection.executeScript("""
            UPDATE lethe.ledger_state SET position = 0, head = repeat('0', 64);
            DELETE FROM lethe.retention_overrides;
            UPDATE lethe.legal_holds SET released_at = NULL;
            """)
        let instance = try #require(try FileManager.default.contentsOfDirectory(atPath: setup.ledger).first)
        let records = setup.ledger + "/" + instance
        let pristine = setup.directory + "/pristine"
        try FileManager.default.copyItem(atPath: records, toPath: pristine)
        func file(_ seq: Int) -> String { records + String(format: "/%016d.json", seq) }
        let tampers: [(String, () throws -> Void)] = [
            ("a flipped byte", {
                var bytes = Array(FileManager.default.contents(atPath: file(2))!)
                let at = bytes.firstIndex(of: UInt8(ascii: "2"))!
                bytes[at] = UInt8(ascii: "3")
                try Data(bytes).write(to: URL(fileURLWithPath: file(2)))
            }),
            ("a cut record", {
                let bytes = FileManager.default.contents(atPath: file(1))!
                try bytes.prefix(40).write(to: URL(fileURLWithPath: file(1)))
            }),
            ("two records swapped", {
                try FileManager.default.moveItem(atPath: file(1), toPath: file(1) + ".x")
                try FileManager.default.moveItem(atPath: file(3), toPath: file(1))
                try FileManager.default.moveItem(atPath: file(1) + ".x", toPath: file(3))
            }),
            ("a record removed from the middle", { try FileManager.default.removeItem(atPath: file(2)) }),
        ]
        for (what, tamper) in tampers {
            try FileManager.default.removeItem(atPath: records)
            try FileManager.default.copyItem(atPath: pristine, toPath: records)
            try tamper()
            let reconcile = try LetheProcess.run(["reconcile"] + keyless, environment: setup.environment)
            #expect(reconcile.status == 79 && reconcile.stderr.contains("nothing was applied"), "\(what): \(reconcile.status) \(reconcile.stderr)")
            #expect(try LetheProcess.run(["ledger", "verify"] + keyless, environment: setup.environment).status == 79, "\(what)")
            let worker = try LetheProcess.run(["worker", "--once", "--log-format", "json"] + keyless, environment: setup.environment.merging(["LETHE_KEYRING": ""]) { $1 })
            #expect(worker.status == 1 && worker.stderr.contains("\"event.action\":\"reconcile\"") && worker.stderr.contains("no job runs"), "\(what): \(worker.stderr.suffix(800))")
            #expect(try count(setup.db.connection, "SELECT position AS n FROM lethe.ledger_state") == 0, "\(what): nothing applied")
            #expect(try count(setup.db.connection, "SELECT count(*) AS n FROM lethe.retention_overrides") == 0, "\(what)")
            #expect(try count(setup.db.connection, "SELECT count(*) AS n FROM lethe.job_runs") == 0, "\(what): no job ran")
        }
        try FileManager.default.removeItem(atPath: records)
        try FileManager.default.copyItem(atPath: pristine, toPath: records)
        let reconcile = try LetheProcess.run(["reconcile", "--json"] + keyless, environment: setup.environment)
        #expect(reconcile.status == 1, "\(reconcile.stderr)")
        #expect(try count(setup.db.connection, "SELECT count(*) AS n FROM lethe.retention_overrides") == 2)
        #expect(try count(setup.db.connection, "SELECT count(*) AS n FROM lethe.legal_holds WHERE released_at IS NULL") == 0)
        #expect(try count(setup.db.connection, "SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'reconcile'") == 3, "one per record (a hold placed is not a ledger action)")
        let metrics = setup.directory + "/lethe.prom"
        _ = try LetheProcess.run(["worker", "--once", "--metrics-file", metrics] + keyless, environment: setup.environment.merging(["LETHE_KEYRING": ""]) { $1 })
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains("lethe_reconcile_records_total 3"))
    }

    @Test func aLedgerBehindTheDatabaseIsReportedAndNothingIsDeleted() throws {
        let setup = try setUp(messages: false)
        let keyless = ["--database-url", setup.db.conninfo]
        for customer in ["1", "2"] {
            #expect(try LetheProcess.run(["retention", "set", "--customer", customer, "--period", "P1M", "--reason", "contract"] + keyless,
                                         environment: setup.environment).status == 0)
        }
        let instance = try #require(try FileManager.default.contentsOfDirectory(atPath: setup.ledger).first)
        try FileManager.default.removeItem(atPath: setup.ledger + "/" + instance + String(format: "/%016d.json", 2))
        let status = try LetheProcess.run(["status"] + keyless, environment: setup.environment)
        #expect(status.status == 1 && status.stdout.contains("LEDGER BEHIND THE DATABASE"), "\(status.stdout)")
        let inspect = try LetheProcess.run(["inspect", "--json"] + keyless, environment: setup.environment)
        #expect(inspect.stdout.contains("ledger_behind_database"), "\(inspect.stdout.prefix(1500))")
        let reconcile = try LetheProcess.run(["reconcile"] + keyless, environment: setup.environment)
        #expect(reconcile.status == 78 && reconcile.stderr.contains("never deletes anything"), "\(reconcile.stderr)")
        let writer = try LetheProcess.run(["retention", "clear", "--customer", "1"] + keyless, environment: setup.environment)
        #expect(writer.status == 78 && writer.stderr.contains("behind the database"), "\(writer.stderr)")
        #expect(try count(setup.db.connection, "SELECT count(*) AS n FROM lethe.retention_overrides") == 2, "nothing changed")
    }
}
