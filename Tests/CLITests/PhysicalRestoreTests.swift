import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 32: erasures no restore can undo, whoever restores. A cluster of the test's own is backed up with
/// pgBackRest (Debian's package, a repository on local disk) and copied with pg_basebackup; then a person is
/// erased, a customer shredded and a retention shortened. The cluster is restored to a point in time before those,
/// to the end of the backup, and from the pg_basebackup copy: each time the database has rolled back (the person's
/// rows, the customer's keys, the six-month retention are back), and `lethe worker --once` or `lethe reconcile`
/// puts back none of it.
@Suite(.serialized) struct PhysicalRestoreTests {
    @Test func erasuresShredsAndRetentionStayAfterPgBackRestAndPgBasebackupRestores() throws {
        let cluster = try PhysicalCluster()
        defer { cluster.remove() }
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring", ledgerRoot = directory + "/ledger", ledgerKey = directory + "/ledger.key"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let initialised = try LetheProcess.run(["ledger", "init", "--keyring", keyring, "--ledger", ledgerRoot, "--ledger-key", ledgerKey])
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let environment = ["LETHE_LEDGER": ledgerRoot, "LETHE_LEDGER_KEY": ledgerKey]
        let common = ["--database-url", cluster.conninfo, "--keyring", keyring]
        func lethe(_ arguments: [String], expect status: Int32 = 0, _ what: String, extra: [String: String] = [:]) throws -> LetheProcess.Outcome {
            let outcome = try LetheProcess.run(arguments, environment: environment.merging(extra) { $1 })
            #expect(outcome.status == status, "\(what): exit \(outcome.status)\n\(outcome.stdout)\n\(outcome.stderr)")
            return outcome
        }
        _ = try lethe(["migrate", "--database-url", cluster.conninfo], "migrate")
        var db = try PostgresConnection(conninfo: cluster.conninfo)
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais'), (3, 'Atelier')")
        for customer in ["1", "2"] {
            let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m\(customer).csv", in: directory)
            _ = try lethe(["import", "messages", file, "--customer", customer] + common, "import \(customer)")
        }

        // The physical backups, before anything is erased.
        try cluster.pgbackrest("stanza-create")
        try cluster.pgbackrest("backup", ["--type=full"])
        try cluster.asPostgres(["/usr/lib/postgresql/15/bin/pg_basebackup", "-h", cluster.socket, "-p", "\(cluster.port)", "-U", "postgres",
                                "-D", cluster.directory + "/basecopy", "-X", "stream", "-c", "fast"])
        let beforeActions = try db.query("SELECT now()::text AS t").single("clock").string("t")
        Thread.sleep(forTimeInterval: 0.05)

        let person = IntakeFixture.people[0]
        _ = try lethe(["subject", "erase", "--phone", person.e164] + common, "subject erase")
        let erasedIds = try db.query("SELECT array_agg(row_id ORDER BY row_id)::text AS ids FROM lethe.tombstone_rows WHERE table_name = 'sms.messages'").single("ids").string("ids")
        _ = try lethe(["customer", "shred", "--customer", "2", "--yes", "--database-url", cluster.conninfo], "customer shred")
        _ = try lethe(["retention", "set", "--customer", "1", "--period", "P1M", "--reason", "contract 12", "--database-url", cluster.conninfo], "retention set")
        let records = try FileManager.default.subpathsOfDirectory(atPath: ledgerRoot).filter { $0.hasSuffix(".json") }.count
        #expect(records == 3, "one ledger record per action")
        // Every WAL record up to now in the archive, so a point-in-time restore can reach past the backup.
        let segment = try db.query("SELECT pg_walfile_name(pg_switch_wal()) AS w").single("wal").string("w")
        for _ in 0..<200 {
            let archived = try db.query("SELECT coalesce(last_archived_wal, '') AS w FROM pg_stat_archiver").single("archiver").string("w")
            if archived >= segment { break }
            Thread.sleep(forTimeInterval: 0.05)
        }

        let erasedRows = { (db: PostgresConnection) in
            try db.query("SELECT count(*) AS n FROM sms.messages WHERE id = ANY (\(.text(erasedIds))::bigint[])").single("n").int("n")
        }
        let openKeys = { (db: PostgresConnection) in
            try db.query("SELECT count(*) AS n FROM lethe.customer_keys WHERE customer_id = 2 AND wrapped IS NOT NULL").single("n").int("n")
        }
        let override = { (db: PostgresConnection) in
            try db.query("SELECT coalesce((SELECT period FROM lethe.retention_overrides WHERE customer_id = 1), 'none') AS p").single("p").string("p")
        }
        let rowsOfCustomer1 = try db.query("SELECT count(*) AS n FROM sms.messages WHERE customer_id = 1").single("n").int("n")
        #expect(try erasedRows(db) == 0 && openKeys(db) == 0 && override(db) == "P1M")
        db = try PostgresConnection(conninfo: "dbname=postgres")  // the shared server, until the cluster is back

        func expectRolledBackThenReconciled(_ restore: String, by command: [String]) throws {
            let restored = try PostgresConnection(conninfo: cluster.conninfo)
            // The database itself has rolled back: the person's rows, the customer's keys and six months are back.
            #expect(try erasedRows(restored) > 0 && openKeys(restored) > 0 && override(restored) == "none",
                    "\(restore): the restore rolled the database back")
            let behind = try LetheProcess.run(["status", "--database-url", cluster.conninfo], environment: environment)
            #expect(behind.status == 1 && behind.stdout.contains("DATABASE BEHIND ITS LEDGER"), "\(restore): \(behind.stdout)")
            let outcome = try LetheProcess.run(command, environment: environment.merging(["LETHE_KEYRING": ""]) { $1 })
            #expect((outcome.stdout + outcome.stderr).contains("reconciled the database with its ledger") || outcome.stdout.contains(": re-applied"),
                    "\(restore): \(outcome.stdout)\n\(outcome.stderr)")
            #expect(try erasedRows(restored) == 0, "\(restore): the erased person's rows are gone again")
            #expect(try openKeys(restored) == 0, "\(restore): the shredded customer's keys are destroyed again")
            #expect(try override(restored) == "P1M", "\(restore): the shortened retention is in force again")
            #expect(try restored.query("SELECT count(*) AS n FROM sms.messages WHERE customer_id = 1").single("n").int("n") == rowsOfCustomer1,
                    "\(restore): nobody else's rows were touched")
            let export = try lethe(["subject", "export", "--phone", person.e164, "--out", directory + "/export-\(restore)"] + common, "export after \(restore)")
            #expect(export.stdout.contains("exported 0 row(s)"), "\(restore): \(export.stdout)")
            #expect(try LetheProcess.run(["reconcile", "--database-url", cluster.conninfo], environment: environment).status == 0, "\(restore): once is enough")
            let audit = try LetheProcess.run(["audit", "verify", "--database-url", cluster.conninfo])
            #expect(audit.status == 0, "\(restore): \(audit.stderr)")
        }

        // pgBackRest, to a point in time before the erasure; the worker notices and reconciles before any job.
        try cluster.stop()
        // The backup named: pgBackRest's own choice by time compares with its stop time in whole seconds.
        let set = try #require(try FileManager.default.contentsOfDirectory(atPath: cluster.directory + "/repo/backup/lethe").first { $0.hasSuffix("F") })
        try cluster.pgbackrest("restore", ["--delta", "--set=\(set)", "--type=time", "--target=\(beforeActions)", "--target-action=promote"])
        try cluster.start()
        try expectRolledBackThenReconciled("pgbackrest point in time",
                                           by: ["worker", "--once", "--log-format", "json", "--database-url", cluster.conninfo])

        // pgBackRest, to the end of the backup; `lethe reconcile` by hand.
        try cluster.stop()
        try cluster.pgbackrest("restore", ["--delta", "--type=immediate", "--target-action=promote"])
        try cluster.start()
        try expectRolledBackThenReconciled("pgbackrest immediate", by: ["reconcile", "--database-url", cluster.conninfo])

        // A pg_basebackup copy taken before the erasure.
        try cluster.stop()
        try cluster.replaceData(with: cluster.directory + "/basecopy")
        try cluster.start()
        try expectRolledBackThenReconciled("pg_basebackup copy", by: ["worker", "--once", "--log-format", "json", "--database-url", cluster.conninfo])
    }
}
