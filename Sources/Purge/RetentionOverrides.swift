import Audit
import Foundation
import Ledger
import LetheCore
import Policy
import Postgres
import Schema

/// Per-customer retention overrides (`lethe retention set|show|clear`). An override can only shorten:
/// the period is validated against the six-month ceiling before anything is stored.
public struct RetentionOverrides {
    let db: PostgresConnection
    let customers: CustomerDirectory
    /// Where a change is also recorded, outside the database, before it commits (nil: no ledger configured).
    public var ledger: Ledger?

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.customers = CustomerDirectory(db, policy: policy)
    }

    public struct Override: Sendable, Encodable {
        public let customerId: Int64
        public let period: String
        public let reason: String
        public let setByDbUser: String
        public let setByOsUser: String
        public let setAt: Date
    }

    /// Sets (or replaces) a customer's override. Refuses periods above P6M, zero, negative or unparseable (exit 65).
    @discardableResult
    public func set(customer: Int64, period text: String, reason: String) throws -> Override {
        let period = try ISODuration.retention(text).get()
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw LetheError.dataError("--reason must not be empty", hint: "say why this customer's retention is shortened (contract clause, ticket)")
        }
        try customers.requireExists(customer)
        return try db.transaction {
            // The database derives the interval from the text and writes the audit record (migration 0019).
            try db.execute("SELECT lethe.retention_set(\(.int(customer)), \(.text(period.description)), \(.text(reason)), \(.text(OperatorIdentity.osUser)))")
            if let ledger {
                var entry = LedgerEntry(action: .retentionSet, customerId: customer)
                entry.period = period.description
                _ = try ledger.append(entry, in: db)
            }
            return try Self.decode(try db.query("""
                SELECT customer_id, period, reason, set_by_db_user, set_by_os_user, set_at FROM lethe.retention_overrides WHERE customer_id = \(.int(customer))
                """).single("override"))
        }
    }

    /// Removes a customer's override; the policy's retention applies again. Returns false if there was none.
    @discardableResult
    public func clear(customer: Int64) throws -> Bool {
        try db.transaction {
            let removed = try db.query("SELECT lethe.retention_clear(\(.int(customer)), \(.text(OperatorIdentity.osUser))) AS removed").single("clear").bool("removed")
            if removed, let ledger { _ = try ledger.append(LedgerEntry(action: .retentionClear, customerId: customer), in: db) }
            return removed
        }
    }

    public func list(customer: Int64? = nil) throws -> [Override] {
        try db.query("""
            SELECT customer_id, period, reason, set_by_db_user, set_by_os_user, set_at FROM lethe.retention_overrides
            WHERE \(customer.map { .int($0) } ?? .null)::bigint IS NULL OR customer_id = \(customer.map { .int($0) } ?? .null) ORDER BY customer_id
            """).rows.map(Self.decode)
    }

    static func decode(_ row: Row) throws -> Override {
        Override(customerId: try row.int("customer_id"), period: try row.string("period"), reason: try row.string("reason"),
                 setByDbUser: try row.string("set_by_db_user"), setByOsUser: try row.string("set_by_os_user"), setAt: try row.date("set_at"))
    }
}

extension RetentionOverrides {
    /// Makes a customer's override what a ledger record says (`period`, or none), in the caller's transaction, through
    /// the same functions (and audit records) as `retention set|clear`. Returns false when it already was.
    public func reapply(customer: Int64, period: String?, record: Int64) throws -> Bool {
        let current = try db.query("SELECT period FROM lethe.retention_overrides WHERE customer_id = \(.int(customer))").first?.string("period")
        if let period {
            guard current != period else { return false }
            try db.execute("SELECT lethe.retention_set(\(.int(customer)), \(.text(period)), \(.text("reconciled from ledger record \(record)")), 'lethe reconcile')")
        } else {
            guard current != nil else { return false }
            _ = try db.query("SELECT lethe.retention_clear(\(.int(customer)), 'lethe reconcile') AS removed").single("clear")
        }
        return true
    }
}
