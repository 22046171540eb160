import Audit
import Foundation
import LetheCore
import Policy
import Postgres
@testable import Purge
import TestSupport
import Testing

@Suite struct PurgeJobTests {
    let tables = [("sms.messages", "created_at"), ("sms.delivery_reports", "reported_at"), ("sms.contacts", "created_at")]

    func prepared() throws -> (TestDatabase, RetentionPolicy) {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let policy = try PolicyFixture.defaultPolicy()
        try RetentionOverrides(db.connection, policy: policy).set(customer: PurgeFixture.shortCustomer, period: "P30D", reason: "contract clause 7")
        try LegalHolds(db.connection, policy: policy).add(customer: PurgeFixture.heldCustomer, reason: "court order 17", until: nil)
        return (db, policy)
    }

    @Test func purgeKeepsExactlyWhatRetentionAndHoldsAllow() throws {
        let (db, policy) = try prepared()
        let job = PurgeJob(db.connection, policy: policy)
        let plan = try job.dryRun(scope: PurgeScope())
        let report = try job.run(scope: PurgeScope(), wait: false)
        #expect(report.status == "completed" && report.checkPassed)
        for (table, timestamp) in tables {
            #expect(try PurgeFixture.survivors(db.connection, table: table, timestamp: timestamp) == PurgeFixture.expectedSurvivors(table: table), "\(table)")
        }
        // The dry run announced exactly what the run removed, table by table and customer by customer.
        for (planned, done) in zip(plan.tables, report.tables) {
            #expect(planned.table == done.table)
            #expect(planned.totalRows == done.totalRows, "\(planned.table)")
            #expect(planned.partitionsDropped.map(\.partition) == done.partitionsDropped.map(\.partition), "\(planned.table)")
            #expect(planned.partitionsDropped.map(\.rows) == done.partitionsDropped.map(\.rows), "\(planned.table)")
            #expect(planned.rowsDeleted == done.rowsDeleted, "\(planned.table)")
        }
        // Old message partitions went whole, the held customer's few rows moved into their rebuilt partitions.
        let messages = try #require(report.tables.first { $0.table == "sms.messages" })
        #expect(messages.partitionsDropped.count >= 4)
        #expect(messages.partitionsDropped.allSatisfy { $0.keptRows == 0 || $0.keptRows == 2 })
        #expect(messages.keptByHold == [CustomerRows(customerId: PurgeFixture.heldCustomer, rows: 8)])
        // Delivery reports: the held customer is a third of each old partition, so they were swept row-wise.
        let reports = try #require(report.tables.first { $0.table == "sms.delivery_reports" })
        #expect(reports.partitionsDropped.allSatisfy { $0.rows == 0 }, "only empty old partitions are dropped")
        #expect(reports.rowsDeleted == [CustomerRows(customerId: 1, rows: 80), CustomerRows(customerId: 2, rows: 140)])
    }

    @Test func aSecondRunRemovesNothing() throws {
        let (db, policy) = try prepared()
        let job = PurgeJob(db.connection, policy: policy)
        _ = try job.run(scope: PurgeScope(), wait: false)
        let second = try job.run(scope: PurgeScope(), wait: false)
        #expect(second.tables.allSatisfy { $0.totalRows == 0 })
        #expect(second.checkPassed)
    }

    @Test func releasingAHoldLetsTheNextRunPurge() throws {
        let (db, policy) = try prepared()
        let job = PurgeJob(db.connection, policy: policy)
        _ = try job.run(scope: PurgeScope(), wait: false)
        try LegalHolds(db.connection, policy: policy).release(customer: PurgeFixture.heldCustomer)
        let report = try job.run(scope: PurgeScope(), wait: false)
        let messages = try #require(report.tables.first { $0.table == "sms.messages" })
        #expect(messages.totalRows == 8)
        #expect(messages.partitionsDropped.contains { $0.rows == 2 }, "rebuilt partitions holding only released rows go whole")
        let survivors = try PurgeFixture.survivors(db.connection, table: "sms.messages", timestamp: "created_at")
        #expect(survivors.keys.filter { $0.hasPrefix("3@") }.sorted() == ["3@10", "3@100", "3@170", "3@45"])
    }

    @Test func scopedToOneCustomerAndOneTable() throws {
        let (db, policy) = try prepared()
        let report = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(customer: 1, table: "contacts"), wait: false)
        #expect(report.tables.map(\.table) == ["sms.contacts"])
        #expect(report.tables[0].rowsDeleted == [CustomerRows(customerId: 1, rows: 12)])
        let others = try PurgeFixture.survivors(db.connection, table: "sms.messages", timestamp: "created_at")
        #expect(others.values.reduce(0, +) == Int64(8 * (30 + 30 + 2)))
    }

    @Test func ledgerAndAuditRecordTheRun() throws {
        let (db, policy) = try prepared()
        let report = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(), wait: false)
        let run = try db.connection.query("SELECT status, cutoffs::text AS cutoffs, check_result->>'passed' AS passed FROM lethe.purge_runs WHERE id = $1",
                                          [.int(report.runId ?? 0)]).single("run")
        #expect(try run.string("status") == "completed")
        #expect(try run.string("passed") == "true")
        #expect(try run.string("cutoffs").contains("\"2\""))
        let audit = try AuditLog.verify(db.connection)
        #expect(audit.isIntact && audit.records == 3)
        #expect(try AuditLog.recent(db.connection, limit: 1)[0].action == "purge")
    }

    @Test func theCeilingHoldsEvenIfTheDatabaseIsTamperedWith() throws {
        let (db, policy) = try prepared()
        // Bypass every check Lethe makes on input: the purge still never keeps a row past six months.
        try db.connection.execute("ALTER TABLE lethe.retention_overrides DROP CONSTRAINT retention_overrides_period_interval_check")
        try db.connection.execute("UPDATE lethe.retention_overrides SET period_interval = interval '5 years'")
        _ = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(), wait: false)
        let survivors = try PurgeFixture.survivors(db.connection, table: "sms.contacts", timestamp: "created_at")
        #expect(survivors.keys.filter { $0.hasPrefix("2@") }.sorted() == ["2@10", "2@100", "2@170", "2@45"])
    }

    @Test func aPartitionLeftDetachedByAKilledRunIsDroppedByTheNext() throws {
        let (db, policy) = try prepared()
        // The state a kill leaves between the detach and the drop transactions.
        let oldest = try #require(try db.connection.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'sms.messages'::regclass AND c.relkind = 'r' ORDER BY c.relname LIMIT 1
            """).first?.string("relname"))
        try db.connection.execute("""
            INSERT INTO lethe.purge_runs (id, started_at, status, policy_hash, ceiling_cutoff, cutoffs, os_user)
            VALUES (100, now(), 'running', 'x', now(), '{}', 'test')
            """)
        try db.connection.execute("ALTER TABLE sms.messages DETACH PARTITION sms.\(oldest)")
        try db.connection.execute("ALTER TABLE sms.\(oldest) SET SCHEMA lethe")
        try db.connection.execute("INSERT INTO lethe.purge_detached (relation, run_id, table_name, partition_name) VALUES ($1, 100, 'sms.messages', $2)",
                                  [.text("lethe.\(oldest)"), .text("sms.\(oldest)")])
        let report = try PurgeJob(db.connection, policy: policy).run(scope: PurgeScope(), wait: false)
        #expect(report.interruptedRunsFound == [100])
        #expect(report.checkPassed)
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.purge_detached").single("n").int("n") == 0)
        #expect(try db.connection.query("SELECT to_regclass($1) IS NULL AS gone", [.text("lethe.\(oldest)")]).single("gone").bool("gone"))
    }

    @Test func overridesOnlyShorten() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let overrides = RetentionOverrides(db.connection, policy: try PolicyFixture.defaultPolicy())
        for period in ["P7M", "P1Y", "P0D", "-P1M", "P182D", "six months"] {
            #expect(throws: LetheError.self) { try overrides.set(customer: 1, period: period, reason: "x") }
        }
        #expect(try overrides.set(customer: 1, period: "P1M", reason: "x").period == "P1M")
        #expect(try overrides.set(customer: 1, period: "P3M", reason: "y").period == "P3M")
        #expect(throws: LetheError.self) { try overrides.set(customer: 99, period: "P1M", reason: "x") }
        #expect(try overrides.list().map(\.period) == ["P3M"])
    }
}

