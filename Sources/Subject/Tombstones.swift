import Audit
import Foundation
import LetheCore
import Keys
import Ledger
import Postgres

/// `lethe.tombstones`: one row per erasure, holding the person's fingerprint, the receipt, and the ids of
/// the rows removed (`lethe.tombstone_rows`).
public struct Tombstones {
    let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    public struct Tombstone: Sendable {
        public let id: Int64
        public let erasedAt: String
        public let requestId: Int64?
        /// The person's fingerprint; nil once expired (no retained backup predates the erasure any more).
        public let fingerprint: SubjectFingerprint?
        public let rowsRemoved: String
        public let erasedByDbUser: String
        public let erasedByOsUser: String
        /// Table -> ids of the rows the erasure removed.
        public let rows: [String: [Int64]]
    }

    /// Records an erasure in the caller's transaction, with its audit record (`auditRows`: rows removed per
    /// table, zeros included), through `lethe.tombstone_record` (migration 0019); returns the tombstone id.
    func record(_ fingerprint: SubjectFingerprint, request: Int64?, removed: [String: Int], rows: [(String, Int64)], auditRows: [String: Int]) throws -> Int64 {
        let receipt = String(decoding: JSONWriter.compact(removed), as: UTF8.self)
        let byTable = Dictionary(grouping: rows, by: \.0).mapValues { $0.map(\.1) }
        let rowIds = AuditValue.object(byTable.mapValues { .array($0.map { .int($0) }) }).json
        let audit = AuditValue.object(auditRows.mapValues { .int(Int64($0)) }).json
        return try db.query("SELECT lethe.tombstone_record(\(request.map { .int($0) } ?? .null), \(.bytes(fingerprint.blindIndex)), \(.int(Int64(fingerprint.blindIndexBits))), \(.bytes(fingerprint.hmac)), \(.text(receipt))::jsonb, \(.text(rowIds))::jsonb, \(.text(audit))::jsonb, \(.text(OperatorIdentity.osUser))) AS id").single("tombstone").int("id")
    }

    private func insertRows(_ id: Int64, _ rows: [(String, Int64)]) throws {
        for (table, group) in Dictionary(grouping: rows, by: \.0) {
            try db.execute("""
                INSERT INTO lethe.tombstone_rows (tombstone_id, table_name, row_id) SELECT \(.int(id)), \(.text(table)), unnest(\(group.map(\.1))::bigint[]) ON CONFLICT DO NOTHING
                """)
        }
    }

    /// Copies a tombstone recorded in another database (the live one) into this one, under the same id; with
    /// `replacing`, whatever this database holds under that id gives way to it.
    func copy(_ tombstone: Tombstone, replacing: Bool = false) throws {
        if replacing {
            try db.execute("DELETE FROM lethe.tombstone_rows WHERE tombstone_id = \(.int(tombstone.id))")
            try db.execute("DELETE FROM lethe.tombstones WHERE id = \(.int(tombstone.id))")
        }
        try db.execute("""
            INSERT INTO lethe.tombstones (id, erased_at, request_id, blind_index, blind_index_bits, subject_hmac, rows_removed, erased_by_db_user, erased_by_os_user)
            VALUES (\(.int(tombstone.id)), \(.text(tombstone.erasedAt))::timestamptz, NULL, \(tombstone.fingerprint.map { .bytes($0.blindIndex) } ?? .null), \(.int(Int64(tombstone.fingerprint?.blindIndexBits ?? 32))), \(tombstone.fingerprint.map { .bytes($0.hmac) } ?? .null), \(.text(tombstone.rowsRemoved))::jsonb, \(.text(tombstone.erasedByDbUser)), \(.text(tombstone.erasedByOsUser)))
            """)
        try insertRows(tombstone.id, tombstone.rows.flatMap { table, ids in ids.map { (table, $0) } })
        // Later erasures in this database must not reuse the copied ids.
        try db.execute("SELECT setval(pg_get_serial_sequence('lethe.tombstones', 'id'), greatest((SELECT max(id) FROM lethe.tombstones), 1))")
    }

    public func ids() throws -> Set<Int64> {
        Set(try db.query("SELECT id FROM lethe.tombstones").rows.map { try $0.int("id") })
    }

    /// Every tombstone, or the one with `id`.
    public func all(id: Int64? = nil) throws -> [Tombstone] {
        let only: SQLValue = id.map { .int($0) } ?? .null
        let rows = try db.query("""
            SELECT t.id, t.erased_at::text AS erased_at, t.request_id, t.blind_index, t.blind_index_bits, t.subject_hmac, t.rows_removed::text AS rows_removed,
                   t.erased_by_db_user, t.erased_by_os_user,
                   coalesce((SELECT jsonb_object_agg(table_name, ids)::text FROM (SELECT table_name, jsonb_agg(row_id ORDER BY row_id) AS ids
                             FROM lethe.tombstone_rows r WHERE r.tombstone_id = t.id GROUP BY table_name) g), '{}') AS rows
            FROM lethe.tombstones t WHERE \(only)::bigint IS NULL OR t.id = \(only) ORDER BY t.id
            """).rows
        return try rows.map { row in
            let ids = (try? JSONSerialization.jsonObject(with: Data(try row.string("rows").utf8)) as? [String: [NSNumber]]) ?? [:]
            return Tombstone(id: try row.int("id"), erasedAt: try row.string("erased_at"), requestId: try row.optionalInt("request_id"),
                             fingerprint: try row.optionalBytes("blind_index").flatMap { index in
                                 try row.optionalBytes("subject_hmac").map { SubjectFingerprint(blindIndex: index, blindIndexBits: Int(try row.int("blind_index_bits")), hmac: $0) }
                             },
                             rowsRemoved: try row.string("rows_removed"), erasedByDbUser: try row.string("erased_by_db_user"),
                             erasedByOsUser: try row.string("erased_by_os_user"), rows: ids.mapValues { $0.map(\.int64Value) })
        }
    }
}

extension Tombstones {
    /// After `lethe keys reindex --bits N`: every tombstone whose blind index is longer than N is cut to N (a shorter
    /// index is a prefix of a longer one); shorter ones keep theirs and are replayed through their row ids. Runs in
    /// the caller's transaction, the one that records the new length.
    public static func shortenBlindIndexes(_ db: PostgresConnection, to bits: Int) throws -> (shortened: Int, kept: Int) {
        var shortened = 0, kept = 0
        for row in try db.query("SELECT id, blind_index, blind_index_bits FROM lethe.tombstones WHERE blind_index IS NOT NULL AND blind_index_bits <> \(.int(Int64(bits)))").rows {
            guard try row.int("blind_index_bits") > Int64(bits) else {
                kept += 1
                continue
            }
            try db.execute("UPDATE lethe.tombstones SET blind_index = \(.bytes(BlindIndex.truncate(try row.bytes("blind_index"), to: bits))), blind_index_bits = \(.int(Int64(bits))) WHERE id = \(.int(try row.int("id")))")
            shortened += 1
        }
        return (shortened, kept)
    }
}

/// A tombstone as the ledger carries it (fingerprint and row ids; no operator names), and back.
extension LedgerEntry {
    public init(erasure tombstone: Tombstones.Tombstone) {
        self.init(action: .erasure)
        tombstoneId = tombstone.id
        erasedAt = tombstone.erasedAt
        blindIndex = tombstone.fingerprint.map { Hex.encode($0.blindIndex) }
        blindIndexBits = tombstone.fingerprint?.blindIndexBits
        subjectHmac = tombstone.fingerprint.map { Hex.encode($0.hmac) }
        rows = tombstone.rows
        rowsRemoved = tombstone.rowsRemoved
    }
}

extension Tombstones.Tombstone {
    /// The tombstone an erasure record describes, for its replay (`record` names it in the erasers' columns).
    public init?(_ entry: LedgerEntry, record: Int64) {
        guard entry.action == .erasure, let id = entry.tombstoneId, let erasedAt = entry.erasedAt else { return nil }
        let fingerprint: SubjectFingerprint? = {
            guard let index = entry.blindIndex.flatMap(Hex.decode), let hmac = entry.subjectHmac.flatMap(Hex.decode), let bits = entry.blindIndexBits else { return nil }
            return SubjectFingerprint(blindIndex: index, blindIndexBits: bits, hmac: hmac)
        }()
        self.init(id: id, erasedAt: erasedAt, requestId: nil, fingerprint: fingerprint, rowsRemoved: entry.rowsRemoved ?? "{}",
                  erasedByDbUser: "ledger", erasedByOsUser: "reconcile (ledger record \(record))", rows: entry.rows ?? [:])
    }
}
