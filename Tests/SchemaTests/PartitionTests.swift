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
    func day(_ text: String) -> Date { UTCDay(parsing: text)!.start }

    @Test func dailyGapsStartWhereMonthlyPartitionsEnd() throws {
        let parent = try QualifiedName(parsing: "sms.messages")
        let november = Month(year: 2026, month: 11)
        let existing = [Partition(parent: parent, name: try QualifiedName(parsing: "sms.m"), from: november.start, to: november.end)]
        let plan = PartitionGapPlan(interval: .day, from: day("2026-11-20"), through: day("2026-12-03").addingTimeInterval(3600), existing: existing)
        #expect(plan.missing.map(\.from) == [day("2026-12-01"), day("2026-12-02"), day("2026-12-03")])
        #expect(plan.missing.allSatisfy { $0.to.timeIntervalSince($0.from) == 86_400 })
        #expect(plan.alreadyPresent == 11)
    }

    @Test func weeklyGapsCreateOnlyTheUncoveredPartOfAWeek() throws {
        let parent = try QualifiedName(parsing: "sms.messages")
        let november = Month(year: 2026, month: 11)
        let existing = [Partition(parent: parent, name: try QualifiedName(parsing: "sms.m"), from: november.start, to: november.end)]
        // 2026-11-30 is a Monday: its week is half November (covered), half December.
        let plan = PartitionGapPlan(interval: .week, from: day("2026-11-30"), through: day("2026-12-08"), existing: existing)
        #expect(plan.missing == [.init(from: day("2026-12-01"), to: day("2026-12-07")), .init(from: day("2026-12-07"), to: day("2026-12-14"))])
        #expect(PartitionInterval.week.start(containing: day("2026-12-06")) == day("2026-11-30"))
    }

    @Test func gapsAroundAForeignPartitionNeverOverlapIt() throws {
        let parent = try QualifiedName(parsing: "sms.messages")
        // A hand-made partition from noon on the 2nd to the 4th.
        let existing = [Partition(parent: parent, name: try QualifiedName(parsing: "sms.x"), from: day("2026-12-02").addingTimeInterval(43_200), to: day("2026-12-04"))]
        let plan = PartitionGapPlan(interval: .day, from: day("2026-12-01"), through: day("2026-12-04"), existing: existing)
        #expect(plan.missing == [.init(from: day("2026-12-01"), to: day("2026-12-02")),
                                 .init(from: day("2026-12-02"), to: day("2026-12-02").addingTimeInterval(43_200)),
                                 .init(from: day("2026-12-04"), to: day("2026-12-05"))])
        // A DEFAULT partition covers nothing: every interval is still created.
        let withDefault = [Partition(parent: parent, name: try QualifiedName(parsing: "sms.d"), from: nil, to: nil, isDefault: true)]
        #expect(PartitionGapPlan(interval: .day, from: day("2026-12-01"), through: day("2026-12-02"), existing: withDefault).missing.count == 2)
    }

    @Test func partitionNamesSortByTime() throws {
        let parent = try QualifiedName(parsing: "sms.messages")
        let catalog = PartitionCatalog()
        let november = Month(year: 2026, month: 11)
        let names = [
            try catalog.partitionName(parent, from: november.start, to: november.end),
            try catalog.partitionName(parent, from: day("2026-12-01"), to: day("2026-12-02")),
            try catalog.partitionName(parent, from: day("2026-12-02"), to: day("2026-12-03")),
            try catalog.partitionName(parent, from: day("2026-12-10"), to: day("2026-12-11")),
            try catalog.partitionName(parent, from: Month(year: 2027, month: 1).start, to: Month(year: 2027, month: 2).start),
        ].map(\.name.name)
        #expect(names == ["messages_p2026_11", "messages_p2026_12_01", "messages_p2026_12_02", "messages_p2026_12_10", "messages_p2027_01"])
        #expect(names == names.sorted())
        #expect(Partition(parent: parent, name: parent, from: day("2026-12-01"), to: day("2026-12-02")).interval == .day)
        #expect(Partition(parent: parent, name: parent, from: day("2026-11-30"), to: day("2026-12-07")).interval == .week)
        #expect(Partition(parent: parent, name: parent, from: november.start, to: november.end).interval == .month)
    }

    @Test func calendarMonthsAddLikePostgreSQL() {
        #expect(Month.adding(months: 1, to: day("2026-01-31")) == day("2026-02-28"))
        #expect(Month.adding(months: -6, to: day("2026-11-26").addingTimeInterval(300)) == day("2026-05-26").addingTimeInterval(300))
        #expect(UTCDay(parsing: "2026-02-30") == nil)
    }

    @Test func boundsParseFromCatalogText() {
        let bounds = Partition.bounds(fromExpression: "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')")
        #expect(bounds?.from == Month(year: 2026, month: 11).start)
        #expect(bounds?.to == Month(year: 2026, month: 12).start)
        #expect(Partition.bounds(fromExpression: "DEFAULT")?.isDefault == true)
        // A date key's and a timestamp key's bounds, read as UTC (issue 30, defect 7).
        let days = Partition.bounds(fromExpression: "FOR VALUES FROM ('2026-11-01') TO ('2026-11-02')")
        #expect(days?.from == Month(year: 2026, month: 11).start && days?.to == Month(year: 2026, month: 11).start.addingTimeInterval(86_400))
        #expect(Partition.bounds(fromExpression: "FOR VALUES FROM ('2026-11-01 00:00:00') TO ('2026-12-01 00:00:00')")?.to == Month(year: 2026, month: 12).start)
        #expect(Partition.bounds(fromExpression: "FOR VALUES FROM ('0') TO ('1000')") == nil)
        #expect(Partition.bounds(fromExpression: "FOR VALUES FROM (MINVALUE) TO ('2026-12-01 00:00:00+00')")?.from == nil)
        // Epoch-seconds keys (issue 33): a bigint bound prints quoted, an integer one bare; elsewhere integers are no time.
        let epoch = Partition.bounds(fromExpression: "FOR VALUES FROM ('1793491200') TO (1796083200)", epochSeconds: true)
        #expect(epoch?.from == Month(year: 2026, month: 11).start && epoch?.to == Month(year: 2026, month: 12).start)
        #expect(Partition.bounds(fromExpression: "FOR VALUES FROM ('2026-11-01') TO ('2026-11-02')", epochSeconds: true) == nil)
        #expect(Partition.bounds(fromExpression: "FOR VALUES FROM (1793491200) TO (1796169600)") == nil)
    }

    /// An epoch-seconds column compared with an instant (issue 33): `column < bound(x)` holds exactly for the whole
    /// seconds before x, at and around fractional and whole-second instants, in Lethe's SQL and in the guarded
    /// functions' (`lethe.time_bound_sql`) alike, and agrees with converting the column itself.
    @Test func epochBoundsAreExactAtTheSecond() throws {
        let db = try TestDatabase()
        let time = TimeColumn(name: try SQLIdentifier("e"), type: .epochSeconds)
        for instant in ["2026-05-04 10:00:00+00", "2026-05-04 10:00:00.000001+00", "2026-05-04 09:59:59.999999+00", "2026-05-04 10:00:00.5+00"] {
            let rows = try db.connection.query("""
                SELECT e, e < \(time.bound("\(text: instant)")) AS lethe, to_timestamp(e) < \(text: instant)::timestamptz AS converted,
                       e >= \(time.bound("\(text: instant)")) AS lethe_at_or_after
                FROM generate_series(extract(epoch FROM \(text: instant)::timestamptz)::bigint - 2, extract(epoch FROM \(text: instant)::timestamptz)::bigint + 2) e
                """).rows
            #expect(rows.count == 5)
            for row in rows {
                let e = try row.int("e")
                #expect(try row.bool("lethe") == row.bool("converted") && row.bool("lethe_at_or_after") == !row.bool("converted"), "\(instant): \(e)")
            }
            try db.connection.execute("CREATE TEMP TABLE IF NOT EXISTS epoch_probe (e bigint)")
            let sql = try db.connection.query("SELECT lethe.time_bound_sql('epoch_probe'::regclass, 'e', \(text: "'" + instant + "'")) AS s").single("sql").string("s")
            let same = try db.connection.query("""
                SELECT bool_and((e < \(unsafeRaw: sql)) = (to_timestamp(e) < \(text: instant)::timestamptz)) AS ok
                FROM generate_series(extract(epoch FROM \(text: instant)::timestamptz)::bigint - 2, extract(epoch FROM \(text: instant)::timestamptz)::bigint + 2) e
                """).single("ok").bool("ok")
            #expect(same, "lethe.time_bound_sql: \(sql)")
        }
        try db.connection.execute("CREATE TEMP TABLE IF NOT EXISTS epoch_probe (e bigint)")
        #expect(try db.connection.query("SELECT lethe.time_bound_literal('epoch_probe'::regclass, 'e', '2026-11-01 00:00:00+00') AS b").single("b").string("b") == "1793491200")
        #expect(time.boundLiteral(Month(year: 2026, month: 11).start).rendered.text == "1793491200")
    }

    @Test func ensureCreatesDailyPartitionsOnce() throws {
        let db = try TestDatabase()
        let policy = try defaultPolicy()
        let now = try DatabaseClock.now(db.connection)
        let from = Month.adding(months: -1, to: now)
        let first = try PartitionCatalog().ensure(db.connection, policy: policy, now: now, from: from)
        let days = Int(PartitionInterval.day.start(containing: ISODuration(days: 30).added(to: now))
            .timeIntervalSince(PartitionInterval.day.start(containing: from)) / 86_400) + 1
        #expect(first.created.count == 2 * days)
        #expect(first.created.allSatisfy { $0.to.timeIntervalSince($0.from) == 86_400 })
        let second = try PartitionCatalog().ensure(db.connection, policy: policy, now: now, from: from)
        #expect(second.created.isEmpty && second.alreadyPresent == 2 * days && second.conflicts.isEmpty)
        let partitions = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        #expect(partitions.map(\.name.name) == partitions.map(\.name.name).sorted())
        #expect(partitions.allSatisfy { $0.interval == .day })
    }

    @Test func aMonthlyDatabaseMovesToDailyWithoutOverlap() throws {
        let db = try TestDatabase()
        let now = try DatabaseClock.now(db.connection)
        let monthly = try PolicyFixture.policy(interval: "P1M")
        _ = try PartitionCatalog().ensure(db.connection, policy: monthly, now: now, from: Month.adding(months: -2, to: now), ahead: ISODuration(months: 1))
        let before = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        #expect(before.count == 4)
        let daily = try PartitionCatalog().ensure(db.connection, policy: try defaultPolicy(), now: now, from: Month.adding(months: -2, to: now),
                                                  ahead: ISODuration(months: 2))
        #expect(daily.conflicts.isEmpty)
        let monthlyEnd = try #require(before.compactMap(\.to).max())
        #expect(daily.created.allSatisfy { $0.from >= monthlyEnd && $0.to.timeIntervalSince($0.from) == 86_400 })
        #expect(daily.created.map(\.from).min() == monthlyEnd)
        let again = try PartitionCatalog().ensure(db.connection, policy: try defaultPolicy(), now: now, from: Month.adding(months: -2, to: now),
                                                  ahead: ISODuration(months: 2))
        #expect(again.created.isEmpty)
    }

    @Test func tablesManagedByAnotherToolAreLeftAlone() throws {
        let db = try TestDatabase()
        let policy = try PolicyFixture.policy(interval: "P1D", create: false)
        let report = try PartitionCatalog().ensure(db.connection, policy: policy, now: try DatabaseClock.now(db.connection))
        #expect(report.created.isEmpty)
        #expect(report.notManaged.map(\.description) == ["sms.messages", "sms.delivery_reports"])
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
