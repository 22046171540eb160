import Foundation
import LetheCore
import Postgres

/// The hash-chained audit log in `lethe.audit_log`. Records name actions, targets (customer ids, run ids,
/// request ids) and counts; never a personal value.
public enum AuditLog {
    /// Appends a record in the caller's transaction, if any, so it commits or rolls back with the work it records.
    @discardableResult
    public static func append(_ db: PostgresConnection, action: String, target: String, details: [String: AuditValue] = [:]) throws -> Int64 {
        try db.query("SELECT lethe.audit_append(\(.text(action)), \(.text(target)), \(.text(OperatorIdentity.osUser)), \(.text(AuditValue.object(details).json))::jsonb) AS id")
            .single("audit_append").int("id")
    }

    /// The newest record: what every job's final log line carries, so the log store holds copies of the chain's
    /// head that the database's writers cannot reach (`audit verify --head ID:HASH` checks against them).
    public struct Head: Sendable, Equatable, Encodable, CustomStringConvertible {
        public let id: Int64
        public let hash: String
        public var description: String { "\(id):\(hash)" }

        public init(id: Int64, hash: String) {
            self.id = id
            self.hash = hash.lowercased()
        }

        /// `ID:HASH` as log lines and `audit verify` print it, or a bare 64-digit hash (any record with that hash).
        public init?(parsing text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            let hashText = String(parts.last ?? "")
            guard hashText.count == 64, hashText.allSatisfy(\.isHexDigit), parts.count <= 2 else { return nil }
            if parts.count == 2 {
                guard let id = Int64(parts[0]), id > 0 else { return nil }
                self.init(id: id, hash: hashText)
            } else {
                self.init(id: 0, hash: hashText)
            }
        }
    }

    public static func head(_ db: PostgresConnection) throws -> Head? {
        try db.query("SELECT id, hash FROM lethe.audit_log ORDER BY id DESC LIMIT 1").first.map { Head(id: try $0.int("id"), hash: try $0.string("hash")) }
    }

    public struct Verification: Sendable, Encodable {
        public let records: Int
        public let lastHash: String?
        public let lastId: Int64?
        /// The first record whose hash or link does not match, and why.
        public let brokenAt: Int64?
        public let problem: String?
        public var isIntact: Bool { brokenAt == nil }
    }

    /// Recomputes every record's hash and checks each link to its predecessor. The chain alone cannot tell that
    /// records were cut from its end: `head`, a hash kept outside the database from an earlier verify (or a log
    /// line), must still be in the chain.
    public static func verify(_ db: PostgresConnection, head: Head? = nil) throws -> Verification {
        try verify(db, heads: head.map { [$0] } ?? [])
    }

    /// One read of the log: the chain, then every head kept outside the database (the first that fails is reported).
    public static func verify(_ db: PostgresConnection, heads: [Head]) throws -> Verification {
        let rows = try db.query("""
            SELECT id, hash, prev_hash, lag(hash) OVER (ORDER BY id) AS expected_prev,
                   lethe.audit_digest(prev_hash, id, at, action, target, db_user, os_user, details) AS recomputed
            FROM lethe.audit_log ORDER BY id
            """).rows
        let genesis = String(repeating: "0", count: 64)
        for row in rows {
            let id = try row.int("id")
            if try row.string("recomputed") != row.string("hash") {
                return Verification(records: rows.count, lastHash: nil, lastId: nil, brokenAt: id, problem: "record \(id) was altered after it was written")
            }
            if try row.string("prev_hash") != (row.optionalString("expected_prev") ?? genesis) {
                return Verification(records: rows.count, lastHash: nil, lastId: nil, brokenAt: id, problem: "the record before \(id) was removed or replaced")
            }
        }
        for head in heads {
            // With an id, that very record must still carry the hash: a history rewritten and re-chained from an
            // earlier record changes every later hash, the head's included.
            let match = try rows.first { head.id == 0 ? try $0.string("hash") == head.hash : try $0.int("id") == head.id }
            if try match?.string("hash") != head.hash {
                let broken = head.id == 0 ? (try rows.last?.int("id") ?? 0) + 1 : head.id
                let problem = match == nil
                    ? "the record \(head.id == 0 ? "with hash \(head.hash.prefix(16))…" : "\(head.id)") is no longer in the log: records were removed from its end, or the log was replaced"
                    : "record \(head.id) no longer has the hash recorded outside the database (\(head.hash.prefix(16))…): the log was rewritten and its chain recomputed"
                return Verification(records: rows.count, lastHash: nil, lastId: nil, brokenAt: broken, problem: problem)
            }
        }
        return Verification(records: rows.count, lastHash: try rows.last?.string("hash"), lastId: try rows.last?.int("id"), brokenAt: nil, problem: nil)
    }

    public struct Record: Sendable, Encodable {
        public let id: Int64
        public let at: Date
        public let action: String
        public let target: String
        public let dbUser: String
        public let osUser: String
        public let details: String
    }

    public static func recent(_ db: PostgresConnection, limit: Int, action: String? = nil) throws -> [Record] {
        try db.query("""
            SELECT id, at, action, target, db_user, os_user, details::text AS details FROM lethe.audit_log
            WHERE \(action.sqlValue)::text IS NULL OR action = \(action.sqlValue) OR action LIKE \(action.sqlValue) || '.%'
            ORDER BY id DESC LIMIT \(.int(Int64(limit)))
            """).rows.map { row in
            Record(id: try row.int("id"), at: try row.date("at"), action: try row.string("action"), target: try row.string("target"),
                   dbUser: try row.string("db_user"), osUser: try row.string("os_user"), details: try row.string("details"))
        }
    }
}

/// A JSON value for audit details and ledgers.
public indirect enum AuditValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case array([AuditValue])
    case object([String: AuditValue])
    case null

    var any: Any {
        switch self {
        case .string(let value): value
        case .int(let value): value
        case .bool(let value): value
        case .array(let values): values.map(\.any)
        case .object(let values): values.mapValues(\.any)
        case .null: NSNull()
        }
    }

    public var json: String {
        let data = (try? JSONSerialization.data(withJSONObject: any, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension AuditValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
}
