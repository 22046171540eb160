import Foundation
import Postgres
import TestSupport
import Testing

@Suite struct SteadyStatePurgeCommandTests {
    /// A day of messages 250 days old in a partition made by hand (`sms.messages_old_day`), past the cutoff.
    static func addOldDay(_ db: TestDatabase, rows: Int) throws {
        try db.connection.execute("""
            DO $$ BEGIN
              EXECUTE format('CREATE TABLE sms.messages_old_day PARTITION OF sms.messages FOR VALUES FROM (%L) TO (%L)',
                             date_trunc('day', now() - interval '250 days'), date_trunc('day', now() - interval '249 days'));
            END $$
            """)
        try db.connection.execute("""
            INSERT INTO sms.messages (customer_id, created_at, recipient, body)
            SELECT 1, date_trunc('day', now() - interval '250 days') + g * interval '1 minute', '\\x01'::bytea, '\\x02'::bytea
            FROM generate_series(1, $1) g
            """, [.int(Int64(rows))])
    }

    /// A purge killed between the two transactions of `DETACH PARTITION … CONCURRENTLY` leaves the partition
    /// "detach pending"; the next run finalizes and drops it, and the ledger shows both runs.
    @Test func aPurgeKilledInsideAConcurrentDetachIsFinishedByTheNextRun() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection, policy: try PolicyFixture.defaultPolicy())
        // The catch-up run first (it drops a year of daily partitions in groups); then the daily run's situation:
        // one day past the cutoff, left by a partition made by hand, is what a concurrent detach removes.
        #expect(try LetheProcess.run(["purge", "--policy", "Policies/default.yaml", "--database-url", db.conninfo]).status == 0)
        try Self.addOldDay(db, rows: 50)
        // An application transaction that has read the table: the detach's second step waits for it to end.
        let application = try db.newConnection()
        try application.execute("BEGIN")
        try application.execute("SELECT count(*) FROM sms.messages")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: LetheProcess.binary)
        process.arguments = ["purge", "--database-url", db.conninfo]
        process.currentDirectoryURL = LetheProcess.packageRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watcher = try db.newConnection()
        var pending: String?
        for _ in 0..<1_000 where pending == nil {
            pending = try watcher.query("""
                SELECT i.inhrelid::regclass::text AS name FROM pg_inherits i WHERE i.inhdetachpending LIMIT 1
                """).first?.string("name")
            if pending == nil { Thread.sleep(forTimeInterval: 0.01) }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try watcher.execute("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'ALTER TABLE%DETACH%'
            """)
        try application.execute("COMMIT")
        let partition = try #require(pending, "the purge reached a concurrent detach")
        #expect(partition == "sms.messages_old_day")
        #expect(try watcher.query("SELECT count(*) AS n FROM pg_inherits WHERE inhdetachpending").single("n").int("n") == 1)

        let rerun = try LetheProcess.run(["purge", "--json", "--policy", "Policies/default.yaml", "--database-url", db.conninfo])
        #expect(rerun.status == 0)
        #expect(try watcher.query("SELECT to_regclass($1) IS NULL AS gone", [.text(partition)]).single("gone").bool("gone"))
        #expect(try watcher.query("SELECT count(*) AS n FROM lethe.purge_detached").single("n").int("n") == 0)
        for (table, timestamp) in [("sms.messages", "created_at"), ("sms.delivery_reports", "reported_at"), ("sms.contacts", "created_at")] {
            let survivors = try PurgeFixture.survivors(db.connection, table: table, timestamp: timestamp)
            // No override or hold in this test: every customer keeps what is younger than six months.
            let expected = PurgeFixture.ages.filter { $0 < 181 }.count
            #expect(Set(survivors.keys.compactMap { Int($0.split(separator: "@")[1]) }).count == expected, "\(table)")
            #expect(survivors.keys.allSatisfy { Int($0.split(separator: "@")[1])! < 181 }, "\(table)")
        }
        let runs = try watcher.query("SELECT id, status FROM lethe.purge_runs ORDER BY id").rows.map { try $0.string("status") }
        #expect(runs == ["completed", "interrupted", "completed"])
        let credited = try watcher.query("""
            SELECT r.status FROM lethe.purge_run_items i JOIN lethe.purge_runs r ON r.id = i.run_id
            WHERE i.partition_name = $1 AND i.partitions_dropped = 1
            """, [.text(partition)]).rows.map { try $0.string("status") }
        #expect(credited == ["completed"], "the run that finished the drop records it")
    }
}

/// Detaches another session left pending (issue 30, defect 8): an operator's or pg_partman's interrupted
/// `DETACH … CONCURRENTLY` makes PostgreSQL refuse every other concurrent detach of the table.
@Suite struct ForeignPendingDetachTests {
    /// Leaves `partition` of sms.messages "detach pending", as an interrupted psql session would.
    func leavePending(_ db: TestDatabase, _ partition: String) throws {
        let application = try db.newConnection()
        try application.execute("BEGIN")
        try application.execute("SELECT count(*) FROM sms.messages")
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin/psql")
        psql.arguments = ["-X", "-q", "-d", db.conninfo, "-c", "ALTER TABLE sms.messages DETACH PARTITION \(partition) CONCURRENTLY"]
        psql.standardOutput = FileHandle.nullDevice
        psql.standardError = FileHandle.nullDevice
        try psql.run()
        let watcher = try db.newConnection()
        var pending = false
        for _ in 0..<1_000 where !pending {
            pending = try watcher.query("SELECT count(*) AS n FROM pg_inherits WHERE inhdetachpending AND inhrelid = $1::regclass", [.text(partition)])
                .single("n").int("n") == 1
            if !pending { Thread.sleep(forTimeInterval: 0.01) }
        }
        try watcher.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'ALTER TABLE%DETACH%'")
        psql.waitUntilExit()
        try application.execute("COMMIT")
        #expect(pending, "\(partition) was left detach pending")
    }

    func partition(_ db: TestDatabase, daysAgo: Int) throws -> String {
        try db.connection.query("""
            SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'sms.messages'::regclass AND c.relname = 'messages_p' || to_char(now() - $1 * interval '1 day', 'YYYY_MM_DD')
            """, [.int(Int64(daysAgo))]).single("partition \(daysAgo) days ago").string("name")
    }

    @Test func anOldOneIsFinishedAndAYoungOneIsSweptAround() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection, policy: try PolicyFixture.defaultPolicy())
        let old = try partition(db, daysAgo: 250)
        try leavePending(db, old)
        let first = try LetheProcess.run(["purge", "--policy", "Policies/default.yaml", "--database-url", db.conninfo])
        #expect(first.status == 0, "\(first.status): \(first.stderr.suffix(400))")
        #expect(try db.connection.query("SELECT to_regclass($1) IS NULL AS gone", [.text(old)]).single("gone").bool("gone"), "the old pending partition was finished and dropped")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages WHERE created_at < now() - interval '6 months'").single("n").int("n") == 0)

        // A young partition left pending, and an old day of rows again: the old rows go row by row, the young
        // partition is left to whoever started its detach, and the run says so.
        let young = try partition(db, daysAgo: 10)
        try leavePending(db, young)
        try SteadyStatePurgeCommandTests.addOldDay(db, rows: 20)
        let second = try LetheProcess.run(["purge", "--json", "--policy", "Policies/default.yaml", "--database-url", db.conninfo])
        #expect(second.status == 0, "\(second.status): \(second.stderr.suffix(400))")
        #expect((second.stdout + second.stderr).contains("was left detach pending by another session"), "\(second.stdout.suffix(600))")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages WHERE created_at < now() - interval '6 months'").single("n").int("n") == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM pg_inherits WHERE inhdetachpending AND inhrelid = $1::regclass", [.text(young)])
            .single("n").int("n") == 1, "the young pending detach is not Lethe's to finish")
    }
}
