import Audit
import Keys
import LetheCore
import Logging
import Policy
import Postgres

/// After a restore: erases again everyone the live database erased, replaying every live tombstone whatever the
/// restored `lethe.tombstones` holds (a backup's own tombstones decide nothing: a forged one with a live id must not
/// make the replay skip that erasure), idempotently, and leaving the live version of each. Rows are found as an
/// erasure finds them (blind index, confirmed by the tombstone's keyed hash) and by the row ids the erasure
/// recorded, which also catches delivery reports whose messages were never backed up.
public struct TombstoneReplay {
    let target: PostgresConnection
    let policy: RetentionPolicy
    /// Without a keyring (the worker's reconcile) rows are found by the ids the erasure recorded only.
    let keyring: Keyring?
    let logger: Logger

    public init(target: PostgresConnection, policy: RetentionPolicy, keyring: Keyring?, logger: Logger = Logger(label: "lethe.restore")) {
        self.target = target
        self.policy = policy
        self.keyring = keyring
        self.logger = logger
    }

    public struct Result: Sendable, Encodable {
        public var tombstonesReplayed = 0
        public var rowsErasedAgain = 0
    }

    public func replay(_ live: [Tombstones.Tombstone]) throws -> Result {
        let present = try Tombstones(target).ids()
        var result = Result()
        guard !live.isEmpty else { return result }
        let locator = try self.locator()
        for tombstone in live {
            let erased = try target.transaction {
                let missing = !present.contains(tombstone.id)
                let deleted = try replay(tombstone, present: !missing, locator: locator)
                // Audited where the replay changed something; a tombstone the copy already honoured adds no record.
                if missing || deleted > 0 {
                    try AuditLog.append(target, action: "subject.erase.replay", target: "tombstone \(tombstone.id)",
                                        details: ["rows_removed": .int(Int64(deleted)), "missing_from_backup": .bool(missing)])
                }
                return deleted
            }
            result.tombstonesReplayed += 1
            result.rowsErasedAgain += erased
        }
        return result
    }

    /// Erases one tombstone's person again and puts the tombstone in place (in the caller's transaction, without an
    /// audit record: the caller writes the one that says why). Returns the rows deleted.
    public func replay(_ tombstone: Tombstones.Tombstone, present: Bool) throws -> Int {
        try replay(tombstone, present: present, locator: try locator())
    }

    /// Finds a person's rows by blind index, when there is a keyring to compute it with.
    private func locator() throws -> SubjectLocator? {
        guard let keyring else { return nil }
        let vault = try Vault(db: target, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        return SubjectLocator(db: target, policy: policy, vault: vault, confirmation: try SubjectConfirmation(keyring: keyring), logger: logger)
    }

    private func replay(_ tombstone: Tombstones.Tombstone, present: Bool, locator: SubjectLocator?) throws -> Int {
        // Rows a hold covers were kept by the erasure, and stay kept while the hold is open (the target is closed
        // to everyone else during a restore: its holds do not change under the replay).
        let held = try SubjectErasure.openHolds(target)
        var rows: [(TablePolicy, Int64)] = []
        if let locator, let fingerprint = tombstone.fingerprint {
            if fingerprint.blindIndexBits != policy.blindIndexBits {
                logger.warning("tombstone recorded with another blind_index_bits; only the rows it listed are erased again",
                               metadata: ["tombstone": .stringConvertible(tombstone.id)])
            } else {
                rows += try locator.locate(fingerprint, content: .identity).rows
                    .filter { row in row.customer.map { held[$0] == nil } ?? true }.map { ($0.table, $0.id) }
            }
        }
        for table in policy.tables {
            let listed = tombstone.rows[table.name.description] ?? []
            rows += listed.map { (table, $0) }
            for linked in policy.tables(linkedTo: table) where !listed.isEmpty {
                guard let via = linked.subjectVia else { continue }
                rows += try target.query("SELECT \(linked.idColumn)::bigint AS id FROM \(linked.name) WHERE \(via.column) = ANY(\(listed)::bigint[])").rows.map { (linked, try $0.int("id")) }
            }
        }
        let deleted = try SubjectRowDeleter(db: target, policy: policy).delete(rows).values.reduce(0, +)
        try Tombstones(target).copy(tombstone, replacing: present)
        return deleted
    }
}
