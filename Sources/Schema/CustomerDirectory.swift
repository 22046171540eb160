import Foundation
import LetheCore
import Policy
import Postgres

/// Knows whether a customer exists: through the policy's customers table when it has one; otherwise from the data
/// (a row of a policy table names it) or Lethe's registry of customers it has acted on (`lethe.customers`, where a
/// customer found is noted, with its name for an account a text column names).
public struct CustomerDirectory {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let table: QualifiedName?

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.policy = policy
        self.table = policy.tables.first { $0.customerColumn == nil && $0.timestampColumn == nil && $0.name.name.name == "customers" }?.name
    }

    public func requireExists(_ customer: Int64) throws {
        if let table {
            let found = try db.query("SELECT EXISTS (SELECT 1 FROM \(table) WHERE id = \(.int(customer))) AS found").single("customer").bool("found")
            guard found else { throw LetheError.noInput("customer \(customer) does not exist in \(table)", hint: "check the id in \(table)") }
            return
        }
        if try db.query("SELECT EXISTS (SELECT 1 FROM lethe.customers WHERE id = \(.int(customer))) AS found").single("customer").bool("found") { return }
        for table in policy.tables {
            guard let key = CustomerKey.sql(table) else { continue }
            guard try db.query("SELECT EXISTS (SELECT 1 FROM \(table.name) WHERE \(key) = \(.int(customer))) AS found").single("customer").bool("found") else { continue }
            try note(customer, name: nil)
            return
        }
        let tables = policy.tables.filter { $0.customerColumn != nil }.map(\.name.description).joined(separator: ", ")
        throw LetheError.noInput("customer \(customer) has no row in the policy's tables (\(tables)) and Lethe has not acted on it before",
                                 hint: "check the id (an account name of a text customer column is given as --customer NAME); 'lethe customer list' shows the customers Lethe knows")
    }

    /// The customer whose name a text customer column holds, noted in the registry (id = lethe.customer_id(name)).
    public func resolve(name: String) throws -> Int64 {
        let id = try CustomerKey.id(name: name)
        let named = policy.tables.filter { $0.customerType == .text }
        for table in named {
            guard let column = table.customerColumn else { continue }
            if try db.query("SELECT EXISTS (SELECT 1 FROM \(table.name) WHERE \(column) = \(.text(name))) AS found").single("customer").bool("found") {
                try note(id, name: name)
                return id
            }
        }
        if try db.query("SELECT EXISTS (SELECT 1 FROM lethe.customers WHERE name = \(.text(name))) AS found").single("customer").bool("found") { return id }
        throw LetheError.noInput(named.isEmpty ? "customer names are for text customer columns (customer_type: text), and the policy declares none"
                                               : "no row of \(named.map(\.name.description).joined(separator: ", ")) names this customer",
                                 hint: named.isEmpty ? "give the customer's numeric id" : "check the spelling: names are compared exactly")
    }

    func note(_ id: Int64, name: String?) throws {
        try db.execute("SELECT lethe.customer_note(\(.int(id)), \(name.sqlValue))")
    }

    /// The customers Lethe knows (noted in its registry), with their names.
    public func known() throws -> [(id: Int64, name: String?, firstSeen: Date)] {
        try db.query("SELECT id, name, first_seen FROM lethe.customers ORDER BY first_seen, id").rows.map {
            (try $0.int("id"), try $0.optionalString("name"), try $0.date("first_seen"))
        }
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
