import LetheCore
import Policy
import Postgres

/// Knows whether a customer id exists, through the policy's customers table when it has one.
public struct CustomerDirectory {
    let db: PostgresConnection
    let table: QualifiedName?

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.table = policy.tables.first { $0.customerColumn == nil && $0.timestampColumn == nil && $0.name.name.name == "customers" }?.name
    }

    public func requireExists(_ customer: Int64) throws {
        guard let table else { return }
        let found = try db.query("SELECT EXISTS (SELECT 1 FROM \(table) WHERE id = \(.int(customer))) AS found").single("customer").bool("found")
        guard found else { throw LetheError.noInput("customer \(customer) does not exist in \(table)", hint: "check the id in \(table)") }
    }
}

/// A customer's retention cutoff at a given database time: now - min(P6M, the table's retention, the
/// customer's override). The ceiling is applied here whatever the stored values say.
public enum CustomerCutoff {
    public static func at(_ now: String, tableRetention: ISODuration, customer: Int64, db: PostgresConnection) throws -> String {
        try db.query("""
            SELECT greatest(\(.text(now))::timestamptz - \(.text(ISODuration.ceiling.description))::interval, \(.text(now))::timestamptz - \(.text(tableRetention.description))::interval,
                            coalesce((SELECT \(.text(now))::timestamptz - period_interval FROM lethe.retention_overrides WHERE customer_id = \(.int(customer))), '-infinity'))::text AS cutoff
            """).single("cutoff").string("cutoff")
    }
}
