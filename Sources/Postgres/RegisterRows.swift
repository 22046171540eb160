import LetheCore

/// Every row of one of Lethe's registers, every column, as the database holds it: read as JSON from one database
/// and written back into another by the register's owner (a restore's replay of overrides and holds). Copying
/// whole records, not a list of columns, means a column a later migration adds travels with them.
public struct RegisterRows: Sendable {
    public let table: QualifiedName
    /// One JSON object per row (`to_jsonb` of the record), sorted by that text so that two reads of the same rows agree.
    public let rows: [String]

    /// All rows of `table`.
    public static func read(_ db: PostgresConnection, _ table: QualifiedName) throws -> RegisterRows {
        let rows = try db.query("SELECT to_jsonb(r)::text AS row FROM \(table) r ORDER BY 1").rows.map { try $0.string("row") }
        return RegisterRows(table: table, rows: rows)
    }

    /// Replaces every row of the table in `target` with these (in the caller's transaction), keeping the table's
    /// id sequence, if it has one, past every copied id. Returns the rows written.
    @discardableResult
    public func replace(in target: PostgresConnection) throws -> Int {
        try target.execute("DELETE FROM \(table)")
        let written = try target.execute("""
            INSERT INTO \(table) OVERRIDING SYSTEM VALUE
            SELECT (jsonb_populate_record(NULL::\(table), value)).* FROM jsonb_array_elements(\(.text("[" + rows.joined(separator: ",") + "]"))::jsonb)
            """)
        let sequence = try target.query("""
            SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = \(.text(table.quoted))::text::regclass AND attname = 'id' AND NOT attisdropped)
                        THEN pg_get_serial_sequence(\(.text(table.quoted))::text, 'id') END AS sequence
            """).single("sequence of \(table)").optionalString("sequence")
        if let sequence {
            try target.execute("SELECT setval(\(.text(sequence))::regclass, greatest((SELECT max(id) FROM \(table)), 1))")
        }
        return written
    }
}
