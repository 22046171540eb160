import Foundation
import LetheCore
import Policy
import Postgres
import Schema

/// A dataset with known ages for purge tests, built relative to the database clock. Ages sit well away
/// from every cutoff used (30 days and six months = 181..184 days), so expectations are exact.
public enum PurgeFixture {
    /// Days before now at which rows are written.
    public static let ages = [10, 45, 100, 170, 200, 250, 300, 360]
    public static let defaultCustomer: Int64 = 1
    public static let shortCustomer: Int64 = 2
    public static let heldCustomer: Int64 = 3

    /// Rows per (customer, age) in each table. The held customer is a small share of messages (so its rows are
    /// moved when old partitions are dropped) and a large share of delivery reports (so those are swept row-wise).
    public static func rowsPerAge(table: String, customer: Int64) -> Int {
        switch (table, customer) {
        case ("sms.messages", heldCustomer): 2
        case ("sms.messages", _): 30
        case ("sms.delivery_reports", _): 20
        default: 3
        }
    }

    /// Loads the dataset into partitions laid out as `policy` says (default: monthly; tests about the daily
    /// layout pass the default policy). A daily layout is sparse unless `fullLayout` (see `ensurePartitions`).
    public static func load(_ db: PostgresConnection, policy: RetentionPolicy? = nil, fullLayout: Bool = false) throws {
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Default Co'), (2, 'Short Retention Co'), (3, 'Held Co')")
        try ensurePartitions(db, monthsBack: 13, policy: policy, rowDays: fullLayout ? nil : ages.map(Double.init))
        for customer in [defaultCustomer, shortCustomer, heldCustomer] {
            for age in ages {
                let at = "now() - interval '\(age) days'"
                try db.execute("""
                    INSERT INTO sms.messages (customer_id, created_at, recipient, body)
                    SELECT $1, \(at), '\\x01'::bytea, '\\x02'::bytea FROM generate_series(1, $2)
                    """, [.int(customer), .int(Int64(rowsPerAge(table: "sms.messages", customer: customer)))])
                try db.execute("""
                    INSERT INTO sms.delivery_reports (message_id, customer_id, status, reported_at)
                    SELECT g, $1, 'delivered', \(at) FROM generate_series(1, $2) g
                    """, [.int(customer), .int(Int64(rowsPerAge(table: "sms.delivery_reports", customer: customer)))])
                try db.execute("""
                    INSERT INTO sms.contacts (customer_id, phone, created_at) SELECT $1, '\\x03'::bytea, \(at) FROM generate_series(1, $2)
                    """, [.int(customer), .int(Int64(rowsPerAge(table: "sms.contacts", customer: customer)))])
            }
        }
    }

    /// Lethe's partitions for `policy` (default: monthly) from `monthsBack` months ago through the policy's `ahead`.
    /// With `rowDays` (ages in days of the rows to come), a daily or weekly layout is made only where it matters:
    /// the intervals holding those rows, a fortnight around the six-month cutoff, and the last 12 days through
    /// `ahead`. The purge still meets partitions wholly past, across and before its cutoff, held and empty ones,
    /// without the 400 empty partitions per table a full year of days costs each test (issue 26: most of the
    /// server's time in the suite); `SteadyStatePurgeTests` keeps one run on the full year.
    public static func ensurePartitions(_ db: PostgresConnection, monthsBack: Int, policy: RetentionPolicy? = nil, rowDays: [Double]? = nil) throws {
        let now = try DatabaseClock.now(db)
        let policy = try policy ?? PolicyFixture.monthlyPolicy()
        let catalog = PartitionCatalog()
        let tables = try catalog.partitionedTables(db, policy: policy)
        guard let rowDays, tables.contains(where: { $0.table.effectivePartitioning.interval != .month }) else {
            _ = try catalog.ensure(db, policy: policy, now: now, from: Month.adding(months: -monthsBack, to: now))
            return
        }
        let days = Set(rowDays.map { Int($0.rounded(.down)) } + rowDays.map { Int($0.rounded(.up)) } + Array(176...190))
        for table in tables where table.table.effectivePartitioning.create {
            let interval = table.table.effectivePartitioning.interval
            var made = Set<Date>()
            for age in days.sorted() where age > 12 {
                let start = interval.start(containing: now.addingTimeInterval(-Double(age) * 86_400))
                guard made.insert(start).inserted else { continue }
                let end = interval.next(after: start)
                // A range a partition made before (an older monthly history) already covers.
                guard !table.partitions.contains(where: { !$0.isDefault && ($0.from ?? .distantPast) < end && ($0.to ?? .distantFuture) > start }) else { continue }
                let name = try catalog.partitionName(table.table.name, from: start, to: end)
                try db.execute("""
                    CREATE TABLE \(name.quoted) PARTITION OF \(table.table.name.quoted)
                    FOR VALUES FROM ('\(Timestamps.iso(start))') TO ('\(Timestamps.iso(end))')
                    """)
            }
        }
        _ = try catalog.ensure(db, policy: policy, now: now, from: now.addingTimeInterval(-12 * 86_400))
    }

    /// Surviving rows per (customer, age in days) in `table`.
    public static func survivors(_ db: PostgresConnection, table: String, timestamp: String) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for row in try db.query("""
            SELECT customer_id, round(extract(epoch FROM now() - \(timestamp)) / 86400)::int AS age, count(*) AS n
            FROM \(try QualifiedName(parsing: table).quoted) GROUP BY 1, 2
            """).rows {
            result["\(try row.optionalInt("customer_id").map(String.init) ?? "null")@\(try row.int("age"))"] = try row.int("n")
        }
        return result
    }

    /// What must survive a purge at `now`: defaults keep under six months, the short customer under 30 days, held keep all.
    public static func expectedSurvivors(table: String) -> [String: Int64] {
        var expected: [String: Int64] = [:]
        for customer in [defaultCustomer, shortCustomer, heldCustomer] {
            for age in ages {
                let keeps = customer == heldCustomer || (customer == shortCustomer ? age < 30 : age < 181)
                if keeps { expected["\(customer)@\(age)"] = Int64(rowsPerAge(table: table, customer: customer)) }
            }
        }
        return expected
    }
}

extension PurgeFixture {
    /// A larger, deterministic dataset (ids and ages depend only on the arguments) for kill and concurrency
    /// tests: `contacts` rows spread over `largeDays` across the three customers, plus some messages.
    public static func loadLarge(_ db: PostgresConnection, contacts: Int, messages: Int, policy: RetentionPolicy? = nil) throws {
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Default Co'), (2, 'Short Retention Co'), (3, 'Held Co')")
        let days = largeDays(policy)
        try ensurePartitions(db, monthsBack: 13, policy: policy, rowDays: days.map { Double($0) + 0.5 })
        let age = "(($2::int[])[1 + g % \(days.count)] + 0.5) * interval '1 day'"
        try db.execute("""
            INSERT INTO sms.contacts (id, customer_id, phone, created_at)
            SELECT g, 1 + g % 3, '\\x03'::bytea, now() - \(age) FROM generate_series(1, $1) g
            """, [.int(Int64(contacts)), .text(intArray(days))])
        try db.execute("""
            INSERT INTO sms.messages (id, customer_id, created_at, recipient, body)
            SELECT g, 1 + g % 3, now() - \(age), '\\x01'::bytea, '\\x02'::bytea FROM generate_series(1, $1) g
            """, [.int(Int64(messages)), .text(intArray(days))])
        try db.execute("INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user) VALUES (2, 'P30D', 'P30D', 'test', 'test')")
    }

    /// The days (before now, plus half a day) at which `loadLarge` writes: every one of 360 on a monthly layout;
    /// on a daily or weekly one, the days around now, both cutoffs (30 days and six months) and a few far past
    /// them, so that the sparse layout of `ensurePartitions` has few partitions.
    public static func largeDays(_ policy: RetentionPolicy?) -> [Int] {
        let fine = policy?.tables.contains { $0.partitioning.map { $0.interval != .month } ?? false } ?? false
        return fine ? Array(0...12) + Array(25...35) + Array(176...190) + [200, 230, 250, 300, 330, 359] : Array(0..<360)
    }

    static func intArray(_ values: some Collection<Int>) -> String { "{" + values.map(String.init).joined(separator: ",") + "}" }

    /// What must survive a purge of `loadLarge`'s data (with the same `policy`), computed from the fixture's own
    /// formula (not by running lethe): customer 2 keeps 30 days, the others six months; ages sit half a day away
    /// from any cutoff.
    public static func expectedLargeSurvivors(_ db: PostgresConnection, contacts: Int, messages: Int, held: Set<Int64> = [],
                                              policy: RetentionPolicy? = nil) throws -> [String: [Int64]] {
        let days = largeDays(policy)
        func ids(_ count: Int) throws -> [Int64] {
            try db.query("""
                SELECT g AS id FROM generate_series(1, $1) g, LATERAL (SELECT ($3::int[])[1 + g % \(days.count)] + 0.5 AS days) a
                WHERE 1 + g % 3 = ANY($2::bigint[])
                   OR (1 + g % 3 = 2 AND a.days < 30)
                   OR (1 + g % 3 <> 2 AND now() - a.days * interval '1 day' >= now() - interval '6 months')
                ORDER BY g
                """, [.int(Int64(count)), .text(intArray(held.map { Int($0) })), .text(intArray(days))]).rows.map { try $0.int("id") }
        }
        return ["sms.contacts": try ids(contacts), "sms.messages": try ids(messages), "sms.delivery_reports": []]
    }

    /// Per table, how many ids are there that should not be, and missing, with the first few of each: a failed
    /// comparison of thousands of ids says what went wrong.
    public static func difference(_ actual: [String: [Int64]], _ expected: [String: [Int64]]) -> String {
        Set(actual.keys).union(expected.keys).sorted().compactMap { table in
            let have = Set(actual[table] ?? []), want = Set(expected[table] ?? [])
            let extra = have.subtracting(want).sorted(), missing = want.subtracting(have).sorted()
            guard !extra.isEmpty || !missing.isEmpty else { return nil }
            return "\(table): \(extra.count) extra \(extra.prefix(5)), \(missing.count) missing \(missing.prefix(5))"
        }.joined(separator: "; ")
    }

    /// Ids of every surviving row of the policy tables, for comparing end states.
    public static func survivingIds(_ db: PostgresConnection) throws -> [String: [Int64]] {
        var result: [String: [Int64]] = [:]
        for table in ["sms.contacts", "sms.messages", "sms.delivery_reports"] {
            result[table] = try db.query("SELECT id FROM \(try QualifiedName(parsing: table).quoted) ORDER BY id").rows.map { try $0.int("id") }
        }
        return result
    }
}
