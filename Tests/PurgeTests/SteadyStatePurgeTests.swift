import Foundation
import LetheCore
import Logging
import Policy
import Postgres
@testable import Purge
import Schema
import TestSupport
import Testing

/// The purge on every partition layout it meets: Lethe's daily, weekly or monthly partitions, a monthly
/// history continued by daily partitions, a DEFAULT partition, and partitions detached concurrently.
@Suite struct SteadyStatePurgeTests {
    let tables = [("sms.messages", "created_at"), ("sms.delivery_reports", "reported_at"), ("sms.contacts", "created_at")]

    func prepared(policy: RetentionPolicy, fullLayout: Bool = false, before: (PostgresConnection) throws -> Void = { _ in }) throws -> TestDatabase {
        let db = try TestDatabase()
        try before(db.connection)
        try PurgeFixture.load(db.connection, policy: policy, fullLayout: fullLayout)
        try RetentionOverrides(db.connection, policy: policy).set(customer: PurgeFixture.shortCustomer, period: "P30D", reason: "contract clause 7")
        try LegalHolds(db.connection, policy: policy).add(customer: PurgeFixture.heldCustomer, reason: "court order 17", until: nil)
        return db
    }

    func expectExactSurvivors(_ db: TestDatabase) throws {
        for (table, timestamp) in tables {
            #expect(try PurgeFixture.survivors(db.connection, table: table, timestamp: timestamp) == PurgeFixture.expectedSurvivors(table: table), "\(table)")
        }
    }

    @Test(arguments: ["P1D", "P7D", "P1M"])
    func everyLayoutKeepsExactlyWhatRetentionAndHoldsAllow(interval: String) throws {
        let policy = try PolicyFixture.policy(interval: interval)
        // Every partition of the 13 months, once per layout: the catch-up's drops in groups over a full year.
        let db = try prepared(policy: policy, fullLayout: true)
        let job = PurgeJob(db.connection, policy: policy)
        let plan = try job.dryRun(scope: PurgeScope())
        let report = try job.run(scope: PurgeScope(), wait: false)
        #expect(report.status == "completed" && report.checkPassed)
        try expectExactSurvivors(db)
        for (planned, done) in zip(plan.tables, report.tables) {
            #expect(planned.totalRows == done.totalRows, "\(planned.table)")
            #expect(planned.partitionsDropped.map(\.partition) == done.partitionsDropped.map(\.partition), "\(planned.table)")
        }
        // Nothing is left half-detached or parked.
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.purge_detached").single("n").int("n") == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM pg_inherits WHERE inhdetachpending").single("n").int("n") == 0)
        let second = try job.run(scope: PurgeScope(), wait: false)
        #expect(second.tables.allSatisfy { $0.totalRows == 0 } && second.checkPassed)
    }

    @Test func aMonthlyHistoryContinuedByDailyPartitionsPurgesExactly() throws {
        let policy = try PolicyFixture.defaultPolicy()
        let db = try prepared(policy: policy) { db in
            // Monthly partitions for the 13 months before this one, as an older Lethe made them.
            let current = Month(containing: try DatabaseClock.now(db))
            for table in ["messages", "delivery_reports"] {
                for back in 1...13 {
                    let month = current.adding(months: -back)
                    try db.execute("""
                        CREATE TABLE sms.\(table)_p\(month.suffix) PARTITION OF sms.\(table)
                        FOR VALUES FROM ('\(Timestamps.iso(month.start))') TO ('\(Timestamps.iso(month.end))')
                        """)
                }
            }
        }
        let partitions = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        let monthStart = Month(containing: try DatabaseClock.now(db.connection)).start
        #expect(partitions.filter { $0.interval == .month }.count == 13)
        #expect(partitions.filter { $0.interval == .day }.allSatisfy { $0.from! >= monthStart }, "daily partitions only fill the gap")
        #expect(partitions.filter { $0.interval == .day }.map(\.from!).min() == monthStart)
        let report = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(), wait: false)
        #expect(report.checkPassed)
        try expectExactSurvivors(db)
    }

    @Test func oldRowsOfADefaultPartitionAreDeletedRowWise() throws {
        let policy = try PolicyFixture.defaultPolicy()
        let db = try prepared(policy: policy) { db in
            try db.execute("CREATE TABLE sms.messages_default PARTITION OF sms.messages DEFAULT")
        }
        // Rows no partition of their own covers: two years old, and two years ahead.
        try db.connection.execute("""
            INSERT INTO sms.messages (customer_id, created_at, recipient, body)
            SELECT 1, now() + g * interval '730 days', '\\x01'::bytea, '\\x02'::bytea FROM generate_series(-1, 1, 2) g
            """)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages_default").single("n").int("n") == 2)
        let report = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(), wait: false)
        #expect(report.checkPassed)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages_default WHERE created_at < now()").single("n").int("n") == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages_default WHERE created_at > now()").single("n").int("n") == 1)
        try db.connection.execute("DELETE FROM sms.messages_default")
        try expectExactSurvivors(db)
    }

    @Test func aHoldPlacedAfterTheDetachSendsThePartitionBack() throws {
        let policy = try PolicyFixture.defaultPolicy()
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection, policy: policy)
        let partition = try #require(try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
            .first { partition in try db.connection.query("SELECT count(*) AS n FROM \(partition.name.quoted)").single("n").int("n") > 0 })
        let rows = try db.connection.query("SELECT count(*) AS n FROM \(partition.name.quoted)").single("n").int("n")
        try db.connection.execute("""
            INSERT INTO lethe.purge_runs (id, started_at, status, policy_hash, ceiling_cutoff, cutoffs, os_user)
            VALUES (100, now(), 'running', 'x', now(), '{}', 'test')
            """)
        try db.connection.execute("""
            INSERT INTO lethe.purge_detached (relation, run_id, table_name, partition_name, bound, holds_checked)
            VALUES ($1, 100, 'sms.messages', $1, $2, false)
            """, [.text(partition.name.description), .text(partition.boundClause ?? "")])
        try db.connection.executeScript("ALTER TABLE sms.messages DETACH PARTITION \(partition.name.quoted) CONCURRENTLY")
        try LegalHolds(db.connection, policy: policy).add(customer: PurgeFixture.defaultCustomer, reason: "court order 18", until: nil)
        let outcome = try DetachedPartitions(db: db.connection, run: 100, customerColumns: ["sms.messages": "customer_id"],
                                             lockTimeoutMilliseconds: 200, logger: Logger(label: "test")).finishLeftovers()
        #expect(outcome == 0, "nothing dropped")
        let back = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection).first { $0.name == partition.name }
        #expect(back?.boundClause == partition.boundClause)
        #expect(try db.connection.query("SELECT count(*) AS n FROM \(partition.name.quoted)").single("n").int("n") == rows)
    }

    /// Partitions made by pg_partman (with its DEFAULT partition), in a policy that leaves their creation to it.
    /// They start 200 days back: the older rows sit in pg_partman's DEFAULT partition, as rows older than a
    /// table's partitioning do.
    @Test func partitionsMadeByPgPartmanArePurgedByTheirBounds() throws {
        let policy = try PolicyFixture.policy(interval: "P1D", create: false)
        let db = try prepared(policy: policy) { db in
            try db.execute("CREATE SCHEMA partman")
            try db.execute("CREATE EXTENSION pg_partman SCHEMA partman")
            // Daily messages and weekly delivery reports (pg_partman makes every partition in PL/pgSQL: 200 days of
            // daily partitions cost about 2 s of server time per table).
            for (table, column, interval) in [("sms.messages", "created_at", "daily"), ("sms.delivery_reports", "reported_at", "weekly")] {
                try db.execute("""
                    SELECT partman.create_parent($1, $2, 'native', $3, p_premake := 4,
                                                 p_start_partition := (now() - interval '200 days')::date::text)
                    """, [.text(table), .text(column), .text(interval)])
            }
        }
        let before = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        #expect(before.contains { $0.isDefault } && before.filter { $0.interval == .day }.count > 190)
        let report = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(), wait: false)
        #expect(report.checkPassed)
        try expectExactSurvivors(db)
        let cutoff = report.tables.first { $0.table == "sms.messages" }!.tableCutoff.date
        let after = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        #expect(after.allSatisfy { $0.to.map { $0 > cutoff } ?? true || $0.isDefault || held(db, $0) }, "old partitions went, by their bounds")
        #expect(after.count < before.count - 10, "the days past the cutoff (about 17) went")
        let leftInDefault = try db.connection.query("""
            SELECT count(*) FILTER (WHERE customer_id <> 3) AS unheld, count(*) FILTER (WHERE customer_id = 3) AS held FROM sms.messages_default
            """).single("default partition")
        #expect(try leftInDefault.int("unheld") == 0 && leftInDefault.int("held") > 0,
                "rows older than the partitions went from pg_partman's DEFAULT partition, but the held customer's")
        // pg_partman's own maintenance still works on what Lethe left.
        try db.connection.execute("SELECT partman.run_maintenance()")
    }

    /// A partition of the held customer's rows is rebuilt, not dropped.
    func held(_ db: TestDatabase, _ partition: Partition) -> Bool {
        (try? db.connection.query("SELECT count(*) AS n FROM \(partition.name.quoted) WHERE customer_id = 3").single("n").int("n")) ?? 0 > 0
    }
}
