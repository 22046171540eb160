import LetheCore
import Postgres

/// How an import's rows travel in COPY. Binary when every target column has the type lethe writes it for: the
/// server then parses no hex, digits or timestamps, which took about a fifth of its time per row (measured:
/// 1M sealed rows, `\copy` text 6.6–7.4 s, binary 5.1–5.9 s). Any other column type (a domain, a numeric
/// count, a timestamp without time zone) gets text, which PostgreSQL's input functions convert.
enum CopyFormat: Equatable {
    case binary, text

    /// Signature, flags and header-extension length of a binary COPY stream.
    static let binaryHeader: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// A field count of -1 ends a binary COPY stream.
    static let binaryTrailer: [UInt8] = [0xFF, 0xFF]

    var header: [UInt8] { self == .binary ? Self.binaryHeader : [] }
    var trailer: [UInt8] { self == .binary ? Self.binaryTrailer : [] }
    var copyOption: SQL { self == .binary ? " (FORMAT binary)" : "" }

    /// Binary if `columns` (name → the type lethe writes) all have exactly that type in `table`.
    static func choose(for table: QualifiedName, columns: [(name: SQLIdentifier, type: String)], db: PostgresConnection) throws -> CopyFormat {
        let rows = try db.query("""
            SELECT a.attname::text AS name, a.atttypid::regtype::text AS type FROM pg_attribute a
            WHERE a.attrelid = \(.text(table.quoted))::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """).rows
        var types: [String: String] = [:]
        for row in rows { types[try row.string("name")] = try row.string("type") }
        return columns.allSatisfy { types[$0.name.name] == $0.type } ? .binary : .text
    }
}
