import Foundation
import Postgres
import TestSupport
import Testing

@Suite struct PurgeCommandTests {
    /// The state a server crash under a purge left (issue 30, defect 10): job_runs' id sequence behind its rows.
    /// The next purge records its run and succeeds, and the one after needs nothing more.
    @Test func aJobRunsSequenceBehindItsRowsDoesNotStopTheNextPurge() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        for _ in 0..<3 { #expect(try LetheProcess.run(["purge", "--database-url", db.conninfo]).status == 0) }
        try db.connection.execute("SELECT setval(pg_get_serial_sequence('lethe.job_runs', 'id'), 1)")
        for attempt in 0..<2 {
            let purge = try LetheProcess.run(["purge", "--database-url", db.conninfo])
            #expect(purge.status == 0, "run \(attempt): \(purge.status) \(purge.stderr.suffix(300))")
        }
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.job_runs WHERE job = 'purge' AND outcome = 'success'").single("n").int("n") == 5)
    }

    /// Issue 30, defect 3: rows without a customer (a nullable customer column) follow the table's retention.
    /// Before, `--dry-run` exited 70 on them, and while any hold was active `NOT (NULL IN (held))` kept them forever.
    @Test func rowsWithoutACustomerArePurgedWhileAHoldIsActive() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        #expect(try LetheProcess.run(["retention", "set", "--customer", "2", "--period", "P30D", "--reason", "contract", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["hold", "add", "--customer", "3", "--reason", "court order 17", "--database-url", db.conninfo]).status == 0)
        // Messages are dropped by partition (held rows moved out), contacts swept row by row: both paths.
        let tables = [("sms.messages", "created_at", "recipient, body", "'\\x01'::bytea, '\\x02'::bytea"), ("sms.contacts", "created_at", "phone", "'\\x03'::bytea")]
        for (table, timestamp, columns, values) in tables {
            try db.connection.execute("ALTER TABLE \(table) ALTER COLUMN customer_id DROP NOT NULL")
            for age in [10, 100, 200, 300] {
                try db.connection.execute("""
                    INSERT INTO \(table) (customer_id, \(timestamp), \(columns))
                    SELECT NULL, now() - interval '\(age) days', \(values) FROM generate_series(1, 5)
                    """)
            }
        }
        let dry = try LetheProcess.run(["purge", "--dry-run", "--json", "--database-url", db.conninfo])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("\"customerId\" : null"), "the report counts rows without a customer: \(dry.stdout.prefix(1500))")
        let run = try LetheProcess.run(["purge", "--json", "--database-url", db.conninfo])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try JSONReport(dry.stdout).totals == JSONReport(run.stdout).totals)
        for (table, timestamp, _, _) in tables {
            let survivors = try PurgeFixture.survivors(db.connection, table: table, timestamp: timestamp)
            #expect(survivors == PurgeFixture.expectedSurvivors(table: table).merging(["null@10": 5, "null@100": 5]) { $0 + $1 },
                    "\(table): no row without a customer outlives the table's retention, the younger ones stay: \(survivors.sorted { $0.key < $1.key })")
        }
        let text = try LetheProcess.run(["purge", "--dry-run", "--database-url", db.conninfo])
        #expect(text.status == 0 && text.stdout.contains("total: 0 rows"), "\(text.stdout)")
        let inspect = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(!inspect.stdout.contains("overdue"), "\(inspect.stdout.prefix(1500))")
    }

    @Test func retentionSetRefusesLongerThanSixMonths() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let refused = try LetheProcess.run(["retention", "set", "--customer", "1", "--period", "P7M", "--reason", "asked", "--database-url", db.conninfo])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("P7M exceeds the 6-month ceiling"))
        for period in ["P0D", "-P1M", "forever"] {
            #expect(try LetheProcess.run(["retention", "set", "--customer", "1", "--period", period, "--reason", "x", "--database-url", db.conninfo]).status == 65)
        }
        #expect(try LetheProcess.run(["retention", "set", "--customer", "1", "--period", "P1M", "--reason", "contract", "--database-url", db.conninfo]).status == 0)
        let shorter = try LetheProcess.run(["retention", "set", "--customer", "1", "--period", "P3M", "--reason", "amended", "--database-url", db.conninfo])
        #expect(shorter.status == 0 && shorter.stdout.contains("customer 1: retention P3M"))
        let show = try LetheProcess.run(["retention", "show", "--json", "--database-url", db.conninfo])
        #expect(show.status == 0 && show.stdout.contains("\"period\" : \"P3M\"") && show.stdout.contains("\"reason\" : \"amended\""))
        #expect(try LetheProcess.run(["retention", "set", "--customer", "404", "--period", "P1M", "--reason", "x", "--database-url", db.conninfo]).status == 66)
    }

    @Test func dryRunThenRunThenNothingLeft() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        #expect(try LetheProcess.run(["retention", "set", "--customer", "2", "--period", "P30D", "--reason", "contract", "--database-url", db.conninfo]).status == 0)
        let hold = try LetheProcess.run(["hold", "add", "--customer", "3", "--reason", "court order 17", "--database-url", db.conninfo])
        #expect(hold.status == 0 && hold.stdout.contains("until released"))
        let before = try PurgeFixture.survivingIds(db.connection)
        let dry = try LetheProcess.run(["purge", "--dry-run", "--json", "--database-url", db.conninfo])
        #expect(dry.status == 0)
        #expect(try PurgeFixture.survivingIds(db.connection) == before, "--dry-run changes nothing")
        let run = try LetheProcess.run(["purge", "--json", "--database-url", db.conninfo])
        #expect(run.status == 0)
        let planned = try JSONReport(dry.stdout), done = try JSONReport(run.stdout)
        #expect(planned.totals == done.totals)
        #expect(done.status == "completed")
        for (table, timestamp) in [("sms.messages", "created_at"), ("sms.delivery_reports", "reported_at"), ("sms.contacts", "created_at")] {
            #expect(try PurgeFixture.survivors(db.connection, table: table, timestamp: timestamp) == PurgeFixture.expectedSurvivors(table: table))
        }
        let again = try LetheProcess.run(["purge", "--database-url", db.conninfo])
        #expect(again.status == 0 && again.stdout.contains("total: 0 rows, 0 partitions removed"))
        #expect(again.stdout.contains("kept by legal hold"))
        let audit = try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo])
        #expect(audit.status == 0 && audit.stdout.contains("audit log intact"))
    }

    /// Deterministic, not a race: the first purge is held inside its batch by an application's row lock (it owns
    /// the purge lock there), and a second purge started then is told to wait out, with the `--wait` hint.
    @Test func twoPurgesAtOnceOneWaitsOut() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let application = try db.newConnection()
        try application.execute("BEGIN")
        try application.execute("SELECT id FROM sms.contacts WHERE created_at < now() - interval '300 days' LIMIT 1 FOR UPDATE")
        let first = try RunningLethe(["purge", "--table", "sms.contacts", "--lock-timeout", "60000", "--database-url", db.conninfo])
        let watcher = try db.newConnection()
        #expect(try KnownPoint.waitForLockWait(watcher, database: db.name, queryContains: "DELETE"), "\(KnownPoint.activity(watcher, database: db.name))")
        let second = try LetheProcess.run(["purge", "--database-url", db.conninfo])
        try application.execute("ROLLBACK")
        let winner = first.wait()
        #expect(winner.status == 0, "\(winner.stderr)")
        #expect(second.status == 75)
        #expect(second.stderr.contains("another lethe purge is running"))
        #expect(second.stderr.contains("--wait"))
    }

    @Test func holdsAreListedAndReleased() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        #expect(try LetheProcess.run(["hold", "add", "--customer", "2", "--reason", "inquiry", "--until", "2099-01-31", "--database-url", db.conninfo]).status == 0)
        let twice = try LetheProcess.run(["hold", "add", "--customer", "2", "--reason", "again", "--database-url", db.conninfo])
        #expect(twice.status == 65 && twice.stderr.contains("already under legal hold"))
        let list = try LetheProcess.run(["hold", "list", "--database-url", db.conninfo])
        #expect(list.status == 0 && list.stdout.contains("2099-02-01T00:00:00Z") && list.stdout.contains("inquiry"))
        #expect(try LetheProcess.run(["hold", "add", "--customer", "2", "--reason", "x", "--until", "tomorrow", "--database-url", db.conninfo]).status == 64)
        #expect(try LetheProcess.run(["hold", "release", "--customer", "2", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["hold", "release", "--customer", "2", "--database-url", db.conninfo]).status == 66)
        let json = try LetheProcess.run(["hold", "list", "--all", "--json", "--database-url", db.conninfo])
        #expect(json.stdout.contains("\"active\" : false"))
    }

    @Test func tamperedAuditLogIsDetected() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        #expect(try LetheProcess.run(["hold", "add", "--customer", "1", "--reason", "a", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["hold", "release", "--customer", "1", "--database-url", db.conninfo]).status == 0)
        // A record cut from the end: only the head kept from an earlier verify shows it.
        let before = try LetheProcess.run(["audit", "verify", "--json", "--database-url", db.conninfo])
        let head = try #require((try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any])?["lastHash"] as? String)
        try db.connection.execute("DELETE FROM lethe.audit_log WHERE id = (SELECT max(id) FROM lethe.audit_log)")
        #expect(try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo]).status == 0)
        let cut = try LetheProcess.run(["audit", "verify", "--head", head, "--database-url", db.conninfo])
        #expect(cut.status == 79 && cut.stderr.contains("removed from its end"), "\(cut.stderr)")

        try db.connection.execute("UPDATE lethe.audit_log SET target = 'customer 2' WHERE id = 1")
        let outcome = try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo])
        #expect(outcome.status == 79)
        #expect(outcome.stderr.contains("record 1 was altered"))
    }
}

/// The parts of `lethe purge --json` the tests compare.
struct JSONReport {
    let status: String
    /// table -> total rows removed (partitions and row sweeps).
    let totals: [String: Int64]

    init(_ text: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        status = object["status"] as? String ?? ""
        var totals: [String: Int64] = [:]
        for table in object["tables"] as? [[String: Any]] ?? [] {
            let name = table["table"] as? String ?? ""
            let partitions = (table["partitionsDropped"] as? [[String: Any]] ?? []).reduce(Int64(0)) { $0 + (($1["rows"] as? NSNumber)?.int64Value ?? 0) }
            let rows = (table["rowsDeleted"] as? [[String: Any]] ?? []).reduce(Int64(0)) { $0 + (($1["rows"] as? NSNumber)?.int64Value ?? 0) }
            totals[name] = partitions + rows
        }
        self.totals = totals
    }
}
