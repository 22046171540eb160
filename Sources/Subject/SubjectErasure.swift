import Audit
import Foundation
import Keys
import Ledger
import LetheCore
import Logging
import Phone
import Policy
import Postgres

/// `lethe subject erase` (GDPR art. 17): deletes every row about one phone number in every policy table, records
/// a tombstone (fingerprint only, never the number) so that restores erase them again, and returns the receipt.
/// One transaction: killed at any point, nothing is erased and the rerun does it all. Rows of a customer under
/// legal hold are kept and listed in the receipt (the command then exits 80); every other row is erased.
public struct SubjectErasure {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let keyring: Keyring
    let logger: Logger
    /// Where the erasure is also recorded, outside the database, before it commits (nil: no ledger configured).
    public var ledger: Ledger?

    public init(db: PostgresConnection, policy: RetentionPolicy, keyring: Keyring, logger: Logger = Logger(label: "lethe.subject")) {
        self.db = db
        self.policy = policy
        self.keyring = keyring
        self.logger = logger
    }

    public struct Receipt: Sendable, Encodable {
        public let tombstone: Int64?
        public let request: Int64?
        public let erasedAt: Date
        public let dryRun: Bool
        /// Rows removed (or, with --dry-run, that would be), per table, every policy table listed.
        public let rowsRemoved: [String: Int]
        public let totalRows: Int
        public let collisionsKept: Int
        public let unreadable: Int
        /// Rows of this person that a legal hold covers: kept (and, with --dry-run, would be), per table and hold.
        public var keptByHold: [KeptRows] = []
    }

    /// Rows an erasure kept because a legal hold covers their customer: counts, never values.
    public struct KeptRows: Sendable, Encodable, Equatable {
        public let table: String
        public let customerId: Int64
        public let holdId: Int64
        public let rows: Int
    }

    public func run(number: PhoneNumber, request requestId: Int64?, dryRun: Bool) throws -> Receipt {
        let register = RequestRegister(db)
        if let requestId { _ = try register.requireOpen(requestId, kind: .erasure) }
        let search = try SubjectSearch(number: number, db: db, policy: policy, keyring: keyring, logger: logger)

        return try db.transaction {
            // Holds are taken and released under this lock by `lethe hold`; a hold placed now waits for this erasure.
            try db.execute("SELECT lethe.lock_holds()")
            var findings = try search.locate(content: .identity)
            // Rows a hold covers are kept and reported; every other row of this person is erased (issue 30).
            let holds = try Self.openHolds(db, customers: Set(findings.rows.compactMap(\.customer)).sorted())
            let isHeld = { (row: ExportedRow) in row.customer.map { holds[$0] != nil } ?? false }
            let kept = findings.rows.filter(isHeld)
            findings.rows.removeAll(where: isHeld)
            let keptByHold = Dictionary(grouping: kept) { KeptKey(table: $0.table.name.description, customer: $0.customer ?? 0) }
                .map { KeptRows(table: $0.key.table, customerId: $0.key.customer, holdId: holds[$0.key.customer] ?? 0, rows: $0.value.count) }
                .sorted { ($0.table, $0.customerId) < ($1.table, $1.customerId) }
            var removed = Dictionary(uniqueKeysWithValues: policy.subjectTables.flatMap { [$0] + policy.tables(linkedTo: $0) }.map { ($0.name.description, 0) })
            removed.merge(findings.countsByTable) { $1 }
            let erasedAt = Date()
            guard !dryRun else {
                return Receipt(tombstone: nil, request: requestId, erasedAt: erasedAt, dryRun: true, rowsRemoved: removed,
                               totalRows: findings.rows.count, collisionsKept: findings.collisions, unreadable: findings.unreadable, keptByHold: keptByHold)
            }
            let deleted = try SubjectRowDeleter(db: db, policy: policy).delete(findings.rows.map { ($0.table, $0.id) })
            removed.merge(deleted) { $1 }
            let tombstone = try Tombstones(db).record(search.fingerprint, request: requestId, removed: deleted,
                                                      rows: findings.rows.map { ($0.table.name.description, $0.id) }, auditRows: removed)
            if let requestId { _ = try register.closeInTransaction(id: requestId) }
            if let ledger, let recorded = try Tombstones(db).all(id: tombstone).first {
                _ = try ledger.append(LedgerEntry(erasure: recorded), in: db)
            }
            return Receipt(tombstone: tombstone, request: requestId, erasedAt: erasedAt, dryRun: false, rowsRemoved: removed,
                           totalRows: deleted.values.reduce(0, +), collisionsKept: findings.collisions, unreadable: findings.unreadable,
                           keptByHold: keptByHold)
        }
    }

    private struct KeptKey: Hashable {
        let table: String
        let customer: Int64
    }

    /// The open legal holds, customer -> hold id: on `customers`, or on every customer when nil. An erasure
    /// keeps the rows they cover, and so does a restore's replay of it.
    static func openHolds(_ db: PostgresConnection, customers: [Int64]? = nil) throws -> [Int64: Int64] {
        if let customers, customers.isEmpty { return [:] }
        let ids: SQLValue = customers.map { .intArray($0) } ?? .null
        var holds: [Int64: Int64] = [:]
        for row in try db.query("""
            SELECT id, customer_id FROM lethe.legal_holds
            WHERE (\(ids)::bigint[] IS NULL OR customer_id = ANY(\(ids)::bigint[])) AND released_at IS NULL AND (until IS NULL OR until > now()) ORDER BY id
            """).rows {
            holds[try row.int("customer_id")] = try row.int("id")
        }
        return holds
    }
}

/// Deletes located rows table by table, children (subject_via) before parents.
struct SubjectRowDeleter {
    let db: PostgresConnection
    let policy: RetentionPolicy

    /// Returns rows actually deleted per table.
    func delete(_ rows: [(TablePolicy, Int64)]) throws -> [String: Int] {
        var deleted: [String: Int] = [:]
        let ordered = policy.tables.filter { $0.subjectVia != nil } + policy.tables.filter { $0.subjectVia == nil }
        for table in ordered {
            let ids = rows.filter { $0.0.name == table.name }.map(\.1)
            guard !ids.isEmpty else { continue }
            deleted[table.name.description, default: 0] += try db.execute(
                "DELETE FROM \(table.name) WHERE \(table.idColumn) = ANY(\(ids)::bigint[])")
        }
        return deleted
    }
}

extension SubjectErasure {
    /// Writes the receipt as `erasure-<request or tombstone>.json`, mode 0600, for the DPO's file.
    public static func writeReceipt(_ receipt: Receipt, directory: String) throws -> String {
        try ExportDirectory.prepare(directory)
        let name = "erasure-" + (receipt.request.map { "request-\($0)" } ?? "tombstone-\(receipt.tombstone ?? 0)") + ".json"
        let path = (directory as NSString).appendingPathComponent(name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamps.iso(date))
        }
        let writer = try SecureFileWriter(path: path, replacing: false)
        try writer.write(Array(try encoder.encode(receipt)) + [0x0A])
        try writer.commit()
        return path
    }
}
