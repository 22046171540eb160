import LetheCore
import Policy
import Postgres

/// `lethe.purge_rules`: each purged table's retention and columns as an operator recorded them from the policy.
/// The guarded functions judge every drop and delete by these, not by what the caller says; a role that
/// purges without owning the tables must therefore run with the same policy.
public struct PurgeRules {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    public struct Rule: Sendable, Equatable, Encodable {
        public let table: String
        public let timestampColumn: String
        public let customerColumn: String
        public let retention: String
    }

    /// The rules the policy implies, one per table under retention.
    public static func rules(of policy: RetentionPolicy) -> [Rule] {
        policy.retentionTables.compactMap { table in
            guard let timestamp = table.timestampColumn, let customer = table.customerColumn, let retention = table.retention else { return nil }
            return Rule(table: table.name.description, timestampColumn: timestamp.name, customerColumn: customer.name, retention: retention.description)
        }
    }

    /// Records the policy's rules (the operator's `roles apply`), removing those of tables no longer purged.
    /// Returns the rules recorded.
    @discardableResult
    public func record(_ policy: RetentionPolicy) throws -> [Rule] {
        let rules = Self.rules(of: policy)
        for rule in rules {
            try db.execute("""
                INSERT INTO lethe.purge_rules (table_name, relation, timestamp_column, customer_column, retention)
                VALUES (\(.text(rule.table))::text, \(.text(rule.table))::text::regclass, \(.text(rule.timestampColumn)), \(.text(rule.customerColumn)), \(.text(rule.retention))::interval)
                ON CONFLICT (table_name) DO UPDATE SET relation = EXCLUDED.relation, timestamp_column = EXCLUDED.timestamp_column,
                    customer_column = EXCLUDED.customer_column, retention = EXCLUDED.retention,
                    recorded_by = session_user, recorded_at = now()
                """)
        }
        try db.execute("DELETE FROM lethe.purge_rules WHERE NOT (table_name = ANY (\(SQLValue.textArray(rules.map(\.table)))::text[]))")
        return rules
    }

    /// Refuses (exit 77) a guarded purge whose policy differs from the recorded rules: the database would refuse
    /// its deletes half-way, or keep rows the policy removes.
    public func checkMatches(_ policy: RetentionPolicy) throws {
        for rule in Self.rules(of: policy) {
            let row = try db.query("""
                SELECT timestamp_column::text AS ts, customer_column::text AS customer, retention = \(.text(rule.retention))::interval AS same
                FROM lethe.purge_rules WHERE table_name = \(.text(rule.table))
                """).first
            guard let row, try row.bool("same"), try row.string("ts") == rule.timestampColumn, try row.string("customer") == rule.customerColumn else {
                throw LetheError(.noPermission,
                                 "this role purges through the database's recorded rules, and those for \(rule.table) \(row == nil ? "are missing" : "differ from the policy (retention \(rule.retention))")",
                                 hint: "an operator records the policy's rules with 'lethe roles apply --policy FILE' (the same policy the worker runs with)")
            }
        }
    }
}
