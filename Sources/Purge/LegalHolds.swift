import Audit
import Foundation
import Ledger
import LetheCore
import Policy
import Postgres
import Schema

/// Legal holds (`lethe hold add|release|list`). While a hold lasts (until released or its `until` passes),
/// purges keep every row of the customer. Changes lock `lethe.legal_holds` the way purge batches do, so a
/// hold placed during a purge takes effect before the next batch.
public struct LegalHolds {
    let db: PostgresConnection
    let customers: CustomerDirectory
    /// Where a release is also recorded, outside the database, before it commits (nil: no ledger configured).
    public var ledger: Ledger?

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.customers = CustomerDirectory(db, policy: policy)
    }

    public struct Hold: Sendable, Encodable {
        public let id: Int64
        public let customerId: Int64
        public let reason: String
        public let until: Date?
        public let placedByDbUser: String
        public let placedByOsUser: String
        public let placedAt: Date
        public let releasedAt: Date?
        public let active: Bool
    }

    @discardableResult
    public func add(customer: Int64, reason: String, until: Date?) throws -> Hold {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw LetheError.dataError("--reason must not be empty", hint: "name the matter: case number, authority request")
        }
        try customers.requireExists(customer)
        return try db.transaction {
            if let until {
                let future = try db.query("SELECT \(.timestamp(until))::timestamptz > now() AS future").single("until").bool("future")
                guard future else { throw LetheError.dataError("--until is in the past", hint: "give a future date, or omit --until for a hold until released") }
            }
            let open = try db.query("""
                SELECT id FROM lethe.legal_holds WHERE customer_id = \(.int(customer)) AND released_at IS NULL AND (until IS NULL OR until > now())
                """).first
            if let open {
                throw LetheError.dataError("customer \(customer) is already under legal hold \(try open.int("id"))",
                                           hint: "release it first ('lethe hold release --customer \(customer)') to change its reason or end date")
            }
            // The register changes only through its function, which writes the audit record (migration 0019).
            let id = try db.query("SELECT lethe.hold_place(\(.int(customer)), \(.text(reason)), \(until.map { .timestamp($0) } ?? .null)::timestamptz, \(.text(OperatorIdentity.osUser))) AS id").single("hold").int("id")
            return try Self.decode(try db.query("SELECT *, true AS active FROM lethe.legal_holds WHERE id = \(.int(id))").single("hold"))
        }
    }

    /// Releases the customer's open hold; the next purge removes what its retention no longer covers.
    @discardableResult
    public func release(customer: Int64) throws -> Hold {
        try db.transaction {
            guard let id = try db.query("SELECT lethe.hold_release(\(.int(customer)), \(.text(OperatorIdentity.osUser))) AS id")
                .single("release").optionalInt("id") else {
                throw LetheError.noInput("customer \(customer) has no open legal hold", hint: "see 'lethe hold list'")
            }
            if let ledger {
                var entry = LedgerEntry(action: .holdRelease, customerId: customer)
                entry.holdId = id
                entry.releasedAt = try db.query("SELECT released_at::text AS at FROM lethe.legal_holds WHERE id = \(.int(id))").single("hold").optionalString("at")
                _ = try ledger.append(entry, in: db)
            }
            return try Self.decode(try db.query("SELECT *, false AS active FROM lethe.legal_holds WHERE id = \(.int(id))").single("hold"))
        }
    }

    /// Open holds, or every hold with `all`.
    public func list(all: Bool = false) throws -> [Hold] {
        try db.query("""
            SELECT *, (released_at IS NULL AND (until IS NULL OR until > now())) AS active FROM lethe.legal_holds
            WHERE \(.bool(all)) OR released_at IS NULL ORDER BY customer_id, id
            """).rows.map(Self.decode)
    }

    static func decode(_ row: Row) throws -> Hold {
        Hold(id: try row.int("id"), customerId: try row.int("customer_id"), reason: try row.string("reason"), until: try row.optionalDate("until"),
             placedByDbUser: try row.string("placed_by_db_user"), placedByOsUser: try row.string("placed_by_os_user"),
             placedAt: try row.date("placed_at"), releasedAt: try row.optionalDate("released_at"), active: try row.bool("active"))
    }

    /// The customers under a hold active at `clock` (the database's `now()` when nil), as a `bigint[]` literal
    /// (`{3,7}`; `{}` when none) to bind as a parameter. Callers lock the holds first when the answer must stay true.
    static func activeCustomerIds(_ db: PostgresConnection, at clock: SQLValue? = nil) throws -> [Int64] {
        try db.query("""
            SELECT customer_id FROM lethe.legal_holds
            WHERE released_at IS NULL AND (until IS NULL OR until > coalesce(\(clock ?? .null)::timestamptz, now()))
            ORDER BY customer_id
            """).rows.map { try $0.int("customer_id") }
    }

    /// SQL predicate: the customer in `column` is under a hold active at the run's clock. Never NULL: a row
    /// without a customer is not held (a bare `IN` is NULL there, so `NOT` of it would keep such rows forever).
    static func activeHoldPredicate(column: SQL, at clock: SQLValue) -> SQL {
        """
        coalesce(\(column) IN (SELECT customer_id FROM lethe.legal_holds
            WHERE released_at IS NULL AND (until IS NULL OR until > \(clock)::timestamptz)), false)
        """
    }
}

extension LegalHolds {
    /// Releases again a hold a ledger record says was released (in the caller's transaction), if a restore reopened
    /// it. Returns false when it is already released.
    public func reapplyRelease(hold: Int64, customer: Int64) throws -> Bool {
        let open = try db.query("SELECT EXISTS (SELECT 1 FROM lethe.legal_holds WHERE id = \(.int(hold)) AND released_at IS NULL) AS open").single("hold").bool("open")
        guard open else { return false }
        _ = try db.query("SELECT lethe.hold_release(\(.int(customer)), 'lethe reconcile') AS id").single("release")
        return true
    }
}
