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
    /// layout pass the default policy).
    public static func load(_ db: PostgresConnection, policy: RetentionPolicy? = nil) throws {
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Default Co'), (2, 'Short Retention Co'), (3, 'Held Co')")
        try ensurePartitions(db, monthsBack: 13, policy: policy)
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

    public static func ensurePartitions(_ db: PostgresConnection, monthsBack: Int, policy: RetentionPolicy? = nil) throws {
        let now = try DatabaseClock.now(db)
        _ = try PartitionCatalog().ensure(db, policy: policy ?? PolicyFixture.monthlyPolicy(), now: now, from: Month.adding(months: -monthsBack, to: now))
    }

    /// Surviving rows per (customer, age in days) in `table`.
    public static func survivors(_ db: PostgresConnection, table: String, timestamp: String) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for row in try db.query("""
            SELECT customer_id, round(extract(epoch FROM now() - \(timestamp)) / 86400)::int AS age, count(*) AS n
            FROM \(try QualifiedName(parsing: table).quoted) GROUP BY 1, 2
            """).rows {
            result["\(try row.int("customer_id"))@\(try row.int("age"))"] = try row.int("n")
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
    /// tests: `contacts` rows spread over 360 days across the three customers, plus some messages.
    public static func loadLarge(_ db: PostgresConnection, contacts: Int, messages: Int, policy: RetentionPolicy? = nil) throws {
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Default Co'), (2, 'Short Retention Co'), (3, 'Held Co')")
        try ensurePartitions(db, monthsBack: 13, policy: policy)
        try db.execute("""
            INSERT INTO sms.contacts (id, customer_id, phone, created_at)
            SELECT g, 1 + g % 3, '\\x03'::bytea, now() - ((g % 360) + 0.5) * interval '1 day' FROM generate_series(1, $1) g
            """, [.int(Int64(contacts))])
        try db.execute("""
            INSERT INTO sms.messages (id, customer_id, created_at, recipient, body)
            SELECT g, 1 + g % 3, now() - ((g % 360) + 0.5) * interval '1 day', '\\x01'::bytea, '\\x02'::bytea FROM generate_series(1, $1) g
            """, [.int(Int64(messages))])
        try db.execute("INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user) VALUES (2, 'P30D', 'P30D', 'test', 'test')")
    }

    /// What must survive a purge of `loadLarge`'s data, computed from the fixture's own formula (not by running
    /// lethe): customer 2 keeps 30 days, the others six months; ages sit half a day away from any cutoff.
    public static func expectedLargeSurvivors(_ db: PostgresConnection, contacts: Int, messages: Int, held: Set<Int64> = []) throws -> [String: [Int64]] {
        func ids(_ count: Int) throws -> [Int64] {
            try db.query("""
                SELECT g AS id FROM generate_series(1, $1) g
                WHERE 1 + g % 3 = ANY($2::bigint[])
                   OR (1 + g % 3 = 2 AND (g % 360) + 0.5 < 30)
                   OR (1 + g % 3 <> 2 AND now() - ((g % 360) + 0.5) * interval '1 day' >= now() - interval '6 months')
                ORDER BY g
                """, [.int(Int64(count)), .text("{" + held.map(String.init).joined(separator: ",") + "}")]).rows.map { try $0.int("id") }
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
