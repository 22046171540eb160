import Foundation
@testable import Schema
import LetheCore
import Policy
import Postgres

import TestSupport
import Testing

func defaultPolicy() throws -> RetentionPolicy {
    try PolicyLoader.load(path: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
}

@Suite struct PartitionTests {
    @Test func gapPlanFindsMissingAndConflictingMonths() throws {
        let parent = try QualifiedName(parsing: "sms.messages")
        let november = Month(year: 2026, month: 11)
        let existing = [
            Partition(parent: parent, name: try QualifiedName(parsing: "sms.a"), from: november.start, to: november.end),
            // A quarter-long partition covering part of January only.
            Partition(parent: parent, name: try QualifiedName(parsing: "sms.b"), from: Month(year: 2027, month: 1).start.addingTimeInterval(86400 * 10), to: Month(year: 2027, month: 3).start),
        ]
        let plan = PartitionGapPlan(wanted: Month.range(november, through: Month(year: 2027, month: 3)), existing: existing)
        #expect(plan.missing.map(\.description) == ["2026-12", "2027-03"])
        #expect(plan.conflicts.map(\.description) == ["2027-01"])
    }

    @Test func boundsParseFromCatalogText() {
        let bounds = Partition.bounds(fromExpression: "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')")
        #expect(bounds?.from == Month(year: 2026, month: 11).start)
        #expect(bounds?.to == Month(year: 2026, month: 12).start)
        #expect(Partition.bounds(fromExpression: "DEFAULT")?.isDefault == true)
        #expect(Partition.bounds(fromExpression: "FOR VALUES FROM (MINVALUE) TO ('2026-12-01 00:00:00+00')")?.from == nil)
    }

    @Test func ensureCreatesMonthlyPartitionsOnce() throws {
        let db = try TestDatabase()
        let policy = try defaultPolicy()
        let months = Month.range(Month(year: 2026, month: 1), through: Month(year: 2026, month: 4))
        let first = try PartitionCatalog().ensure(db.connection, policy: policy, months: months)
        #expect(first.created.map(\.description).sorted() == [
            "sms.delivery_reports_p2026_01", "sms.delivery_reports_p2026_02", "sms.delivery_reports_p2026_03", "sms.delivery_reports_p2026_04",
            "sms.messages_p2026_01", "sms.messages_p2026_02", "sms.messages_p2026_03", "sms.messages_p2026_04",
        ])
        let second = try PartitionCatalog().ensure(db.connection, policy: policy, months: months)
        #expect(second.created.isEmpty && second.alreadyPresent == 8)
        let partitions = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        #expect(partitions.first?.from == Month(year: 2026, month: 1).start)
        #expect(partitions.last?.to == Month(year: 2026, month: 5).start)
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'c')")
        try db.connection.execute("INSERT INTO sms.delivery_reports (id, message_id, customer_id, status, reported_at) VALUES (1, 1, 1, 'delivered', '2026-03-31 23:59:59+00')")
    }

    @Test func aRowWithoutPartitionIsRefusedNotLost() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'c')")
        do {
            try db.connection.execute("INSERT INTO sms.delivery_reports (id, message_id, customer_id, status, reported_at) VALUES (1, 1, 1, 'delivered', now())")
            Issue.record("expected a refusal")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23514")
            #expect(error.message.contains("no partition"))
        }
    }

    @Test func policyMatchesTheMigratedDatabase() throws {
        let db = try TestDatabase()
        #expect(try PolicyDatabaseCheck().problems(try defaultPolicy(), db: db.connection).isEmpty)
        try db.connection.execute("ALTER TABLE sms.contacts DROP COLUMN name")
        let problems = try PolicyDatabaseCheck().problems(try defaultPolicy(), db: db.connection)
        #expect(problems.count == 1)
        #expect(problems.first?.contains("tables[1].personal[1]: column sms.contacts.name does not exist") == true)
    }
}
