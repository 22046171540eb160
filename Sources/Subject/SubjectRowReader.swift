import Foundation
import Keys
import LetheCore
import Policy
import Postgres
import Schema

/// One row of a policy table as an export shows it: every column (personal ones decrypted), its owner, and
/// when retention will delete it.
struct ExportedRow {
    let table: TablePolicy
    let id: Int64
    let customer: Int64?
    /// Column name -> JSON value (JSONSerialization types).
    var fields: [String: Any]
    /// The period that applies to this row (the shorter of the table's and the customer's), nil if not purged by age.
    let retention: String?
    /// When retention deletes it; nil while its customer is under legal hold, or if not purged by age.
    let deletionDue: Date?
    let held: Bool
    /// When the row was recorded (its timestamp column as an instant, whatever the column's type).
    var recorded: Date? = nil
    /// Personal columns that could not be opened (shredded key, tampered value), by name.
    var unreadable: [String] = []

    /// The JSON object written for this row.
    var document: [String: Any] {
        var document: [String: Any] = ["table": table.name.description, "row_id": id, "fields": fields]
        document["customer_id"] = customer ?? NSNull()
        if let retention { document["retention"] = retention }
        if let recorded { document["recorded_at"] = Timestamps.iso(recorded) }
        if table.retention != nil {
            document["deletion_due"] = deletionDue.map { Timestamps.iso($0) } ?? NSNull()
            document["legal_hold"] = held
        }
        if !unreadable.isEmpty { document["unreadable_columns"] = unreadable }
        return document
    }
}

/// Reads rows of one policy table by a SQL predicate, with their retention facts, decrypting what is asked:
/// every personal column (exports), or none (erasure, which only needs ids and owners).
struct SubjectRowReader {
    let db: PostgresConnection
    let vault: Vault?

    /// What to read of each row.
    enum Content {
        /// Ids, owners and the raw personal columns (for confirmation), no document.
        case identity
        /// Every column, personal ones decrypted.
        case full
    }

    struct RawRow {
        var exported: ExportedRow
        /// Personal column -> stored (sealed) bytes.
        let sealed: [SQLIdentifier: [UInt8]]
    }

    /// `predicate` is a fragment over alias `t`, with its own values.
    func read(_ table: TablePolicy, where predicate: SQL, content: Content, orderAndLimit: SQL = "ORDER BY 1") throws -> [RawRow] {
        var select: [SQL] = ["t.\(table.idColumn)::bigint AS lethe_row_id",
                             CustomerKey.sql(table, alias: SQLIdentifier.t).map { "\($0)::bigint AS lethe_customer" } ?? "NULL::bigint AS lethe_customer"]
        // Envelopes are read as bytes in either form (a `text` column of an adopted table holds the text form).
        let forms = table.personalColumns.isEmpty ? [:] : try SealedColumnForm.load(db, table)
        for (index, column) in table.personalColumns.enumerated() {
            select.append("\((forms[column] ?? .binary).readable("t.\(column)")) AS \(try SQLIdentifier("lethe_p\(index)"))")
        }
        if content == .full {
            let hidden = table.personalColumns.map(\.name)
            select.append(hidden.isEmpty ? "to_jsonb(t)::text AS lethe_doc" : "(to_jsonb(t) - \(SQLValue.textArray(hidden))::text[])::text AS lethe_doc")
        }
        var joins: SQL = ""
        let time = TimeColumn(table)
        select.append(time.map { "\($0.instant(alias: SQLIdentifier.t))::timestamptz AS lethe_recorded" } ?? "NULL::timestamptz AS lethe_recorded")
        if let time, let retention = table.retention, let customer = CustomerKey.sql(table, alias: SQLIdentifier.t) {
            let r: SQL = "\(text: retention.description)::interval", c: SQL = "\(text: ISODuration.ceiling.description)::interval"
            let label: SQL = "\(text: retention.description)::text"
            let ts: SQL = time.instant(alias: SQLIdentifier.t)
            joins = """
                LEFT JOIN lethe.retention_overrides o ON o.customer_id = \(customer)
                LEFT JOIN LATERAL (SELECT true AS held FROM lethe.legal_holds h WHERE h.customer_id = \(customer)
                    AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now()) LIMIT 1) h ON true
                """
            select += [
                "CASE WHEN o.period_interval IS NOT NULL AND \(ts) + o.period_interval < \(ts) + \(r) THEN o.period ELSE \(label) END AS lethe_retention",
                "least(\(ts) + \(r), \(ts) + \(c), \(ts) + o.period_interval) AS lethe_due",
                "coalesce(h.held, false) AS lethe_held",
            ]
        } else {
            select += ["NULL::text AS lethe_retention", "NULL::timestamptz AS lethe_due", "false AS lethe_held"]
        }
        let rows = try db.query("SELECT \(select.joined(separator: ", ")) FROM \(table.name) t \(joins) WHERE \(predicate) \(orderAndLimit)").rows
        return try rows.map { row in
            var sealed: [SQLIdentifier: [UInt8]] = [:]
            for (index, column) in table.personalColumns.enumerated() {
                if let bytes = try row.optionalBytes("lethe_p\(index)") { sealed[column] = bytes }
            }
            var fields: [String: Any] = [:]
            if content == .full, let doc = try row.optionalString("lethe_doc"),
               let object = try? JSONSerialization.jsonObject(with: Data(doc.utf8)) as? [String: Any] {
                fields = object
                for index in table.blindIndexes.values {
                    // bytea comes out of to_jsonb as "\\x…"; the blind index is shown as plain hex.
                    if let text = fields[index.name] as? String, text.hasPrefix("\\x") {
                        fields[index.name] = String(text.dropFirst(2))
                    }
                }
            }
            let held = try row.bool("lethe_held")
            var exported = ExportedRow(table: table, id: try row.int("lethe_row_id"), customer: try row.optionalInt("lethe_customer"), fields: fields,
                                       retention: try row.optionalString("lethe_retention"), deletionDue: held ? nil : try row.optionalDate("lethe_due"),
                                       held: held, recorded: try row.optionalDate("lethe_recorded"))
            if content == .full { try decrypt(&exported, sealed) }
            return RawRow(exported: exported, sealed: sealed)
        }
    }

    /// Opens every personal column into the row's fields; a value that does not open is listed, never guessed.
    private func decrypt(_ row: inout ExportedRow, _ sealed: [SQLIdentifier: [UInt8]]) throws {
        for column in row.table.personalColumns {
            guard let bytes = sealed[column] else {
                row.fields[column.name] = NSNull()
                continue
            }
            guard let vault else {
                row.unreadable.append(column.name)
                continue
            }
            do {
                let customer = row.customer ?? CustomerKey.withoutCustomer
                let plaintext = try vault.open(bytes, EnvelopeContext(table: row.table.name.description, column: column.name, customer: customer), row: row.id)
                row.fields[column.name] = String(validating: plaintext, as: UTF8.self) ?? Data(plaintext).base64EncodedString()
            } catch let error as LetheError where error.code == .integrity {
                row.fields[column.name] = NSNull()
                row.unreadable.append(column.name)
            }
        }
    }
}
