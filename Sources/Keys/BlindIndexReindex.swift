import Audit
import Foundation
import LetheCore
import Policy
import Postgres
import Schema

/// `lethe keys reindex --bits N`: recomputes every blind index at a new length from the sealed numbers, and
/// rewrites the tombstones that can be (a shorter length is a prefix of a longer one; a tombstone shorter than
/// N keeps its length and is replayed through the row ids it lists). While it runs, `reindex_to` makes every other
/// keyed command refuse (exit 75); batches commit one by one and a rerun starts over, so a kill loses nothing.
public struct BlindIndexReindex {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let keyring: Keyring
    let batch: Int
    /// Shortens the tombstones' blind indexes to the new length, in the transaction that records it: given by the
    /// module that owns `lethe.tombstones` (Subject's `Tombstones.shortenBlindIndexes`), which Keys cannot import.
    let shortenTombstones: TombstoneShortening

    public typealias TombstoneShortening = (_ db: PostgresConnection, _ bits: Int) throws -> (shortened: Int, kept: Int)

    public init(db: PostgresConnection, policy: RetentionPolicy, keyring: Keyring, batch: Int = 2000, shortenTombstones: @escaping TombstoneShortening) {
        self.db = db
        self.policy = policy
        self.keyring = keyring
        self.batch = batch
        self.shortenTombstones = shortenTombstones
    }

    public struct Report: Sendable, Encodable {
        public var fromBits: Int?
        public var toBits: Int
        public var dryRun: Bool
        /// Blind-index values rewritten, by table.
        public var rows: [String: Int] = [:]
        public var tombstonesShortened = 0
        public var tombstonesKept = 0
    }

    /// The length recorded in the database, and a re-index under way if any.
    public static func recorded(_ db: PostgresConnection) throws -> (bits: Int, reindexTo: Int?)? {
        try db.query("SELECT bits, reindex_to FROM lethe.blind_index_parameters").first.map {
            (Int(try $0.int("bits")), try $0.optionalInt("reindex_to").map(Int.init))
        }
    }

    public func run(to bits: Int, dryRun: Bool) throws -> Report {
        guard (8...256).contains(bits) else { throw LetheError.usage("--bits must be between 8 and 256") }
        let recorded = try Self.recorded(db)
        var report = Report(fromBits: recorded?.bits, toBits: bits, dryRun: dryRun)
        if let pending = recorded?.reindexTo, pending != bits {
            throw LetheError(.tempFail, "a re-index to \(pending) bits is in progress", hint: "finish it first: lethe keys reindex --bits \(pending)")
        }
        guard let recorded, recorded.bits != bits || recorded.reindexTo != nil else { return report }
        guard !dryRun else {
            for (table, _, _) in columns() {
                report.rows[table.name.description, default: 0] += Int(try db.query("SELECT count(*) AS n FROM \(table.name)").single("count").int("n"))
            }
            return report
        }
        guard try db.tryAdvisoryLock(.keys) else {
            throw LetheError(.tempFail, "another lethe keys command is running on this database", hint: "wait for it, then rerun")
        }
        defer { _ = try? db.advisoryUnlock(.keys) }
        try db.execute("UPDATE lethe.blind_index_parameters SET reindex_to = \(.int(Int64(bits)))")
        let vault = try Vault(db: db, keyring: keyring, blindIndexBits: bits, reindexing: true)
        for (table, column, index) in columns() {
            report.rows[table.name.description, default: 0] += try rewrite(table, column: column, index: index, vault: vault)
        }
        try db.transaction {
            (report.tombstonesShortened, report.tombstonesKept) = try shortenTombstones(db, bits)
            try db.execute("UPDATE lethe.blind_index_parameters SET bits = \(.int(Int64(bits))), reindex_to = NULL, recorded_at = now()")
            try AuditLog.append(db, action: "keys.reindex", target: "blind indexes", details: [
                "from_bits": .int(Int64(recorded.bits)), "to_bits": .int(Int64(bits)),
                "rows": .int(Int64(report.rows.values.reduce(0, +))), "tombstones_shortened": .int(Int64(report.tombstonesShortened)),
            ])
        }
        return report
    }

    private func columns() -> [(TablePolicy, SQLIdentifier, SQLIdentifier)] {
        policy.subjectTables.flatMap { table in table.blindIndexes.sorted { $0.key.name < $1.key.name }.map { (table, $0.key, $0.value) } }
    }

    /// Every sealed number of `column`: opened, normalised, indexed at the new length. A value that does not open
    /// (a shredded customer) or is not a number gets no index.
    private func rewrite(_ table: TablePolicy, column: SQLIdentifier, index: SQLIdentifier, vault: Vault) throws -> Int {
        var rewritten = 0
        try SealedColumnScan(db: db, table: table, column: column, batch: batch).forEachBatch(customer: nil, onlyUnsealed: false) { values in
            var updates: [(Int64, [UInt8]?, String?)] = []
            for value in values {
                let customer = value.customer ?? CustomerKey.withoutCustomer
                let context = EnvelopeContext(table: table.name.description, column: column.name, customer: customer)
                let tag = try (try? vault.open(value.bytes, context, row: value.id))
                    .flatMap { try vault.blindIndex.tag(ofStored: $0, region: policy.defaultRegion, rules: policy.phoneRules) }
                updates.append((value.id, tag, value.timestamp))
            }
            try db.transaction {
                for (id, tag, timestamp) in updates {
                    var prune: SQL = ""
                    if let time = TimeColumn(table), let timestamp {
                        prune = " AND \(time.name) = \(time.literal(timestamp))"
                    }
                    let value: SQLValue = tag.map { .bytes($0) } ?? .null
                    rewritten += try db.execute("UPDATE \(table.name) SET \(index) = \(value) WHERE \(table.idColumn) = \(id)\(prune)")
                }
            }
        }
        return rewritten
    }

}
