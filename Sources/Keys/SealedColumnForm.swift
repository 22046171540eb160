import LetheCore
import Policy
import Postgres

/// How a personal column stores its envelopes, by the column's type: `bytea` holds the binary envelope, `text`
/// (a table Lethe adopted, sealed in place without `ALTER TYPE`) its text form (`Envelope.textForm`).
public enum SealedColumnForm: String, Sendable {
    case binary
    case text

    /// The form of a column of PostgreSQL type `type` (`format_type`), nil when it can hold no envelope. A
    /// `varchar(n)` too short for an envelope's text form is refused by `policy check`, not here.
    public init?(type: String) {
        switch type {
        case "bytea": self = .binary
        case "text", "character varying": self = .text
        default:
            guard type.hasPrefix("character varying(") else { return nil }
            self = .text
        }
    }

    /// The forms of the personal columns of `table`, read from the catalog (a column missing from the table is left
    /// out: the caller's own query names it).
    public static func load(_ db: PostgresConnection, _ table: TablePolicy) throws -> [SQLIdentifier: SealedColumnForm] {
        let rows = try db.query("""
            SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
            WHERE attrelid = \(text: table.name.quoted)::regclass AND attnum > 0 AND NOT attisdropped AND attname = ANY(\(SQLValue.textArray(table.personalColumns.map(\.name)))::text[])
            """).rows
        var forms: [SQLIdentifier: SealedColumnForm] = [:]
        for row in rows {
            let name = try row.string("attname")
            if let column = table.personalColumns.first(where: { $0.name == name }) { forms[column] = SealedColumnForm(type: try row.string("type")) ?? .binary }
        }
        return forms
    }

    /// SQL: the stored value as `bytea` (a text column's UTF-8 bytes), for a reader that opens either form.
    public func readable(_ expression: SQL) -> SQL {
        switch self {
        case .binary: expression
        case .text: "convert_to(\(expression), 'UTF8')"
        }
    }

    /// The bytes to bind for a binary envelope (bound in binary format, they are a `text` value's UTF-8 too).
    public func stored(_ envelope: [UInt8]) -> [UInt8] {
        switch self {
        case .binary: envelope
        case .text: Envelope.textForm(envelope)
        }
    }
}
