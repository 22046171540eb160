import Audit
import Foundation
import Ledger
import LetheCore
import Policy
import Postgres
import Schema

/// `lethe keys rotate|status` and `lethe customer shred`.
public struct KeyAdministration {
    let db: PostgresConnection
    /// Where a shred is also recorded, outside the database, before it commits (nil: no ledger configured).
    public var ledger: Ledger?

    public init(_ db: PostgresConnection, ledger: Ledger? = nil) {
        self.db = db
        self.ledger = ledger
    }

    public struct RotationReport: Sendable, Encodable {
        public let kekId: Int
        public let rewrapped: Int
        /// True when this run finished an interrupted rotation instead of adding a version.
        public let resumed: Bool
    }

    /// Rotation, step one: adds a KEK version to the keyring file, durably (file and directory fsynced), and records
    /// its fingerprint. Nothing in the database is wrapped with it yet: the operator copies the keyring to its offline
    /// backup first, then runs step two. A crash at any instant leaves every data key openable with the file on disk.
    public func addKEK(keyring: Keyring) throws -> (Keyring, pendingDataKeys: Int) {
        guard try db.tryAdvisoryLock(.keys) else {
            throw LetheError(.tempFail, "another key operation is running on this database", hint: "wait for it, then rerun")
        }
        defer { _ = try? db.advisoryUnlock(.keys) }
        let keys = try DataKeys(db: db, keyring: keyring)
        let next = try keyring.addingKEK()
        try KeyringMatch.check(db, next)
        try AuditLog.append(db, action: "keys.add", target: "kek \(next.newest.id)")
        return (next, try keys.countsByKEK().values.reduce(0, +))
    }

    /// Rotation, step two (after the keyring's copy is confirmed): re-wraps every live data key with the newest KEK.
    /// Idempotent: an interrupted run is finished by the next.
    public func rewrap(keyring: Keyring) throws -> RotationReport {
        guard try db.tryAdvisoryLock(.keys) else {
            throw LetheError(.tempFail, "another key operation is running on this database", hint: "wait for it, then rerun")
        }
        defer { _ = try? db.advisoryUnlock(.keys) }
        // Step two says the keyring has been copied offline: its newest KEK is confirmed, in the file, before use.
        let keyring = try keyring.confirmingPending()
        let keys = try DataKeys(db: db, keyring: keyring)
        let resumed = (try keys.countsByKEK())[keyring.current.id] != nil
        let rewrapped = try keys.rewrapAll(to: keyring.current)
        try AuditLog.append(db, action: "keys.rotate", target: "kek \(keyring.current.id)",
                            details: ["rewrapped": .int(Int64(rewrapped)), "resumed": .bool(resumed)])
        return RotationReport(kekId: keyring.current.id, rewrapped: rewrapped, resumed: resumed)
    }

    public struct Status: Sendable, Encodable {
        public struct Version: Sendable, Encodable {
            public let kekId: Int
            public let createdAt: String
            public let dataKeys: Int
            /// Added by rotation step one, not yet confirmed by --rewrap: nothing is wrapped with it.
            public let pending: Bool
        }
        public let keyring: String
        public let versions: [Version]
        public let shreddedKeys: Int
        /// Data keys wrapped by a KEK this keyring does not have: data that cannot be read with it.
        public let unknownVersions: [Int]
    }

    public func status(keyring: Keyring) throws -> Status {
        let keys = try DataKeys(db: db, keyring: keyring)
        let counts = try keys.countsByKEK()
        let known = Set(keyring.keks.map(\.id))
        return Status(keyring: keyring.path,
                      versions: keyring.keks.sorted { $0.id < $1.id }.map { Status.Version(kekId: $0.id, createdAt: $0.createdAt, dataKeys: counts[$0.id] ?? 0, pending: $0.pending) },
                      shreddedKeys: try keys.shreddedCount(), unknownVersions: counts.keys.filter { !known.contains($0) }.sorted())
    }

    /// Destroys the customer's data keys: every value sealed under them, here and in any backup restored
    /// later (restore replays shreds), can no longer be opened. Irreversible. Returns keys destroyed.
    /// Destroys the customer's data keys and, in the same transaction, its blind indexes: they are short keyed
    /// hashes of phone numbers under a key every keyring holder has, so a numbering plan could be brute-forced
    /// back out of them. Returns the keys destroyed and the blind-index values removed.
    public func shred(customer: Int64, policy: RetentionPolicy) throws -> (keys: Int, blindIndexes: Int) {
        try db.transaction {
            let forgotten = try Self.forgetBlindIndexes(db, customer: customer, policy: policy)
            // The keys go, with the audit record, through the function (migration 0019): the DPO writes no key row.
            let destroyed = try db.query("SELECT lethe.customer_shred(\(.int(customer)), \(.int(Int64(forgotten))), \(.text(OperatorIdentity.osUser))) AS n").single("shred").int("n")
            if let ledger {
                var entry = LedgerEntry(action: .shred, customerId: customer)
                let keys = try db.query("SELECT key_id, shredded_at::text AS at FROM lethe.customer_keys WHERE customer_id = \(.int(customer)) AND shredded_at IS NOT NULL ORDER BY key_id").rows
                entry.keyIds = try keys.map { try $0.int("key_id") }
                entry.shreddedAt = try keys.last?.string("at")
                _ = try ledger.append(entry, in: db)
            }
            return (Int(destroyed), forgotten)
        }
    }

    /// Nulls every blind-index value of `customer` in the policy's tables (a shred, or its replay on restore).
    public static func forgetBlindIndexes(_ db: PostgresConnection, customer: Int64, policy: RetentionPolicy) throws -> Int {
        var removed = 0
        for table in policy.subjectTables {
            guard let customerKey = CustomerKey.sql(table) else { continue }
            for index in table.blindIndexes.values.sorted(by: { $0.name < $1.name }) {
                removed += try db.execute("UPDATE \(table.name) SET \(index) = NULL WHERE \(customerKey) = \(.int(customer)) AND \(index) IS NOT NULL")
            }
        }
        return removed
    }
}
