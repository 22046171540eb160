import Foundation
import LetheCore
@testable import Policy
import Postgres
@testable import Purge
import TestSupport
import Testing

/// The six-month ceiling where no loadable policy can reach it: a policy object and a recorded rule that claim
/// longer retention (no loader or CHECK accepts either, so the clamps behind them are tested only here).
@Suite struct CeilingTamperTests {
    let tables = [("sms.messages", "created_at"), ("sms.delivery_reports", "reported_at"), ("sms.contacts", "created_at")]

    @Test func thePlannerClampsATablesRetentionToTheCeiling() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let policy = try PolicyFixture.monthlyPolicy()
        try RetentionOverrides(db.connection, policy: policy).set(customer: PurgeFixture.shortCustomer, period: "P30D", reason: "contract clause 7")
        try LegalHolds(db.connection, policy: policy).add(customer: PurgeFixture.heldCustomer, reason: "court order 17", until: nil)
        let tampered = policy.claimingRetention(ISODuration(months: 12))
        #expect(tampered.retentionTables.allSatisfy { $0.retention == ISODuration(months: 12) })
        _ = try PurgeJob(db.connection, policy: tampered).run(scope: PurgeScope(), wait: false)
        for (table, timestamp) in tables {
            #expect(try PurgeFixture.survivors(db.connection, table: table, timestamp: timestamp) == PurgeFixture.expectedSurvivors(table: table), "\(table)")
        }
    }

    @Test func theGuardedFunctionsClampATamperedRuleToTheCeiling() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        try PurgeRules(db: db.connection).record(try PolicyFixture.monthlyPolicy())
        // As the tables' owner could: lift the CHECK and record five years for every table.
        try db.connection.execute("ALTER TABLE lethe.purge_rules DROP CONSTRAINT purge_rules_retention_check")
        try db.connection.execute("UPDATE lethe.purge_rules SET retention = interval '5 years'")
        try db.connection.execute("""
            INSERT INTO lethe.purge_runs (id, started_at, status, policy_hash, ceiling_cutoff, cutoffs, os_user)
            VALUES (100, now(), 'running', 'x', now(), '{}', 'test')
            """)
        let cutoff = try db.connection.query("SELECT lethe.purge_guard_cutoff('sms.contacts', 1) = now() - interval '6 months' AS ceiling").single("cutoff")
        #expect(try cutoff.bool("ceiling"), "a customer's guard cutoff is the ceiling, not the recorded five years")

        // Rows: a batch at the ceiling is accepted (the floor is the ceiling), and removes what is past it.
        let leaf = try db.connection.query("SELECT tableoid::regclass::text AS leaf FROM sms.contacts WHERE created_at < now() - interval '190 days' LIMIT 1")
            .single("leaf").string("leaf")
        let deleted = try db.connection.query("SELECT lethe.purge_delete_rows('sms.contacts', $1::regclass, 100, now() - interval '6 months', p_limit => 1000) AS n",
                                              [.text(leaf)]).single("n").int("n")
        #expect(deleted > 0)
        // Partitions: one wholly past the ceiling goes.
        let oldest = try db.connection.query("""
            SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'sms.messages'::regclass AND EXISTS (SELECT 1 FROM sms.messages m WHERE m.tableoid = c.oid)
            ORDER BY c.relname LIMIT 1
            """).single("oldest").string("name")
        let dropped = try db.connection.query("SELECT lethe.purge_drop_partition('sms.messages', $1::regclass, 100) AS n", [.text(oldest)]).single("n").int("n")
        #expect(dropped > 0)
    }
}

extension RetentionPolicy {
    /// This policy with every retention table claiming `retention`, as no loader would build it.
    func claimingRetention(_ retention: ISODuration) -> RetentionPolicy {
        RetentionPolicy(source: source, sourceBytes: sourceBytes, version: version, defaultRegion: defaultRegion, maxSegments: maxSegments,
                        blindIndexBits: blindIndexBits, tables: tables.map { $0.retention == nil ? $0 : $0.claimingRetention(retention) },
                        backup: backup, dpo: dpo, schedule: schedule, phoneValidation: phoneValidation)
    }
}

extension TablePolicy {
    func claimingRetention(_ retention: ISODuration) -> TablePolicy {
        TablePolicy(name: name, idColumn: idColumn, timestampColumn: timestampColumn, customerColumn: customerColumn, retention: retention,
                    personalColumns: personalColumns, blindIndexes: blindIndexes, intake: intake, backup: backup, category: category,
                    subjectVia: subjectVia, partitioning: partitioning, operationalColumns: operationalColumns, line: line)
    }
}
