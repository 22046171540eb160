import Foundation
import LetheCore
import Policy
import Postgres

/// Takes only data from a backup: reads the script `pg_restore --file=-` makes of the archive (no database
/// connection of its own) and keeps three kinds of line, each re-issued by Lethe with identifiers checked and
/// values bound: the rows of each COPY into a table the policy backs up (or one of Lethe's registers), the
/// sequence values of those tables, and the range bounds of their partitions. Every other statement the archive
/// holds (functions, triggers, rules, constraints, policies, extensions, ownership, grants) is never sent to the
/// server: the target's schema is built by Lethe's own migrations. A forged archive can bring rows, never code.
final class ArchiveDataLoader {
    private let target: PostgresConnection
    private let policy: RetentionPolicy
    /// Root table names (`sms.contacts`) whose rows are taken; nil: every table the policy backs up and Lethe's registers.
    private let wanted: Set<String>?
    /// Full restores replace what the migrations seeded; `--table` restores add to what is there.
    private let replacing: Bool

    struct Result: Sendable {
        var rows: [String: Int64] = [:]
        var partitionsCreated = 0
        /// Statements of the archive that were not data: never run.
        var statementsIgnored = 0
        /// COPY blocks of tables the restore does not take (undeclared, `backup: false`, not asked for).
        var tablesSkipped: [String] = []
        /// Columns of the archive the target lacks (a backup from an older schema): left out.
        var columnsDropped: [String] = []
    }

    private(set) var result = Result()
    /// Schemas whose sequences the restore sets: those of the tables it takes.
    private let sequenceSchemas: Set<String>
    private var partitionParents: [String: QualifiedName] = [:]
    private var copy: ActiveCopy?
    private var skipping = false
    private var pending: [UInt8] = []
    private var inStatement = false

    /// One COPY block being streamed into the target: which archive columns are kept.
    private struct ActiveCopy {
        let table: QualifiedName
        let keep: [Bool]
        let dropsAny: Bool
        var rows: Int64 = 0
    }

    init(target: PostgresConnection, policy: RetentionPolicy, wanted: Set<String>?, replacing: Bool) {
        self.target = target
        self.policy = policy
        self.wanted = wanted
        self.replacing = replacing
        sequenceSchemas = Set(policy.tables.filter { wanted?.contains($0.name.description) ?? $0.backup }.map(\.name.schema.name)
                              + (wanted == nil ? ["lethe"] : []))
    }

    /// The policy's backed-up tables and Lethe's registers (not its migration ledger: the target has its own).
    private func takes(_ root: QualifiedName) throws -> Bool {
        let name = root.description
        if let wanted { return wanted.contains(name) }
        if root.schema.name == "lethe" { return name != "lethe.schema_migrations" }
        return policy.table(named: name)?.backup == true
    }

    /// Foreign keys made deferrable for the load, put back by `finish`.
    private var deferred: [(table: QualifiedName, constraint: SQLIdentifier)] = []

    /// Before the first row: the archive's tables come in name order, not in the order of the target's foreign
    /// keys (contacts before customers), so the keys are checked once, at the end of the load, in its transaction.
    func start() throws {
        let schemas = Set(policy.tables.map(\.name.schema.name) + ["lethe"]).sorted()
        deferred = try target.query("""
            SELECT n.nspname AS schema, c.relname AS table, k.conname AS name
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'f' AND NOT k.condeferrable AND k.conparentid = 0 AND n.nspname = ANY (\(.textArray(schemas))::text[])
            """).rows.map {
            (QualifiedName(schema: try SQLIdentifier(catalog: $0.string("schema")), name: try SQLIdentifier(catalog: $0.string("table"))),
             try SQLIdentifier(catalog: $0.string("name")))
        }
        for key in deferred { try target.execute("ALTER TABLE \(key.table) ALTER CONSTRAINT \(key.constraint) DEFERRABLE INITIALLY DEFERRED") }
        try target.execute("SET CONSTRAINTS ALL DEFERRED")
    }

    /// Feeds the script's bytes, in any pieces.
    func feed(_ bytes: [UInt8]) throws {
        pending += bytes
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            try line(pending[start..<newline])
            start = newline + 1
        }
        pending.removeFirst(start)
    }

    func finish() throws {
        if !pending.isEmpty { try line(pending[...]) }
        pending = []
        guard copy == nil && !skipping else { throw LetheError.integrity("the backup's dump ends inside a table's data") }
        // Every foreign key checked now, then made as the migrations left it.
        try target.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for key in deferred { try target.execute("ALTER TABLE \(key.table) ALTER CONSTRAINT \(key.constraint) NOT DEFERRABLE") }
        deferred = []
    }

    /// After a failure: a COPY left open is ended, so the caller's transaction can roll back.
    func abandon() {
        if copy != nil { target.abortCopyIn() }
        copy = nil
    }

    private static let endOfData: [UInt8] = [0x5C, 0x2E]  // "\." alone on its line

    private func line(_ bytes: ArraySlice<UInt8>) throws {
        if skipping {
            if bytes.elementsEqual(Self.endOfData) { skipping = false }
            return
        }
        if var active = copy {
            if bytes.elementsEqual(Self.endOfData) {
                try endCopy()
                return
            }
            try copyLine(bytes, &active)
            copy = active
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("COPY ") && text.hasSuffix(" FROM stdin;") {
            try beginCopy(text)
        } else if text.hasPrefix("SELECT pg_catalog.setval(") {
            try setval(text)
        } else if text.hasPrefix("ALTER TABLE ONLY ") && text.contains(" ATTACH PARTITION ") {
            try attach(text)
        } else if !text.isEmpty && !text.hasPrefix("--") && !inStatement {
            result.statementsIgnored += 1
            inStatement = !text.hasSuffix(";")
        } else if inStatement && text.hasSuffix(";") {
            inStatement = false
        }
    }

    // MARK: COPY blocks

    private func beginCopy(_ text: String) throws {
        let body = text.dropFirst("COPY ".count).dropLast(" FROM stdin;".count)
        guard let open = body.firstIndex(of: "(") else { throw LetheError.integrity("the backup's dump has a COPY without columns") }
        let table = try ArchiveNames.qualified(String(body[..<open]).trimmingCharacters(in: .whitespaces))
        let columns = try ArchiveNames.columns(String(body[open...]))
        let root = partitionParents[table.description] ?? table
        guard try takes(root) else {
            result.tablesSkipped.append(table.description)
            skipping = true
            return
        }
        let present = Set(try target.query("""
            SELECT attname::text AS name FROM pg_attribute WHERE attrelid = to_regclass(\(.text(root.quoted))) AND attnum > 0 AND NOT attisdropped
            """).rows.map { try $0.string("name") })
        guard !present.isEmpty else {
            throw LetheError(.config, "the restore target has no table \(root) for the backup's rows", hint: "restore into a database Lethe migrates, or without --table")
        }
        let keep = columns.map { present.contains($0.name) }
        for (column, kept) in zip(columns, keep) where !kept { result.columnsDropped.append("\(root).\(column.name)") }
        if replacing && result.rows[root.description] == nil { try target.execute("DELETE FROM \(root)") }
        let kept = zip(columns, keep).filter(\.1).map { pair -> SQL in "\(pair.0)" }.joined(separator: ", ")
        try target.beginCopyIn("COPY \(root) (\(kept)) FROM STDIN")
        copy = ActiveCopy(table: root, keep: keep, dropsAny: keep.contains(false))
    }

    private func copyLine(_ bytes: ArraySlice<UInt8>, _ active: inout ActiveCopy) throws {
        active.rows += 1
        guard active.dropsAny else {
            try target.putCopyLine(bytes)
            return
        }
        // COPY text format: fields separated by tab bytes (a tab inside a value is written \t).
        let fields = bytes.split(separator: 0x09, omittingEmptySubsequences: false)
        var out: [UInt8] = []
        var first = true
        for (field, kept) in zip(fields, active.keep) where kept {
            // By position, not by what is written so far: a first kept field may be empty.
            if !first { out.append(0x09) }
            first = false
            out += field
        }
        try target.putCopyLine(out[...])
    }

    private func endCopy() throws {
        guard let active = copy else { return }
        try target.endCopyIn()
        result.rows[active.table.description, default: 0] += active.rows
        copy = nil
    }

    // MARK: Sequences and partitions

    /// `SELECT pg_catalog.setval('sms.contacts_id_seq', 2000, true);` for a sequence in a schema the restore takes.
    private func setval(_ text: String) throws {
        guard let match = text.firstMatch(of: /^SELECT pg_catalog\.setval\('((?:[^']|'')+)', (-?[0-9]+), (true|false)\);$/) else {
            result.statementsIgnored += 1
            return
        }
        let sequence = String(match.1).replacingOccurrences(of: "''", with: "'")
        guard let row = try target.query("""
            SELECT c.relnamespace::regnamespace::text AS schema FROM pg_class c WHERE c.oid = to_regclass(\(.text(sequence))) AND c.relkind = 'S'
            """).first, sequenceSchemas.contains(try row.string("schema")) else {
            result.statementsIgnored += 1
            return
        }
        guard let value = Int64(match.2) else { return }
        try target.execute("SELECT setval(\(.text(sequence))::regclass, \(.int(value)), \(.bool(match.3 == "true")))")
    }

    /// `ALTER TABLE ONLY sms.messages ATTACH PARTITION sms.messages_p2026_10 FOR VALUES FROM ('…') TO ('…');`:
    /// the partition is made from the parent in the target, with the bounds read as timestamps (or whole epoch seconds).
    private func attach(_ text: String) throws {
        guard let match = text.firstMatch(of: /^ALTER TABLE ONLY (.+) ATTACH PARTITION (.+) (FOR VALUES FROM \('?([^')]+)'?\) TO \('?([^')]+)'?\)|DEFAULT);$/) else {
            result.statementsIgnored += 1
            return
        }
        let parent = try ArchiveNames.qualified(String(match.1))
        let child = try ArchiveNames.qualified(String(match.2))
        guard child.schema == parent.schema else {
            result.statementsIgnored += 1
            return
        }
        let root = partitionParents[parent.description] ?? parent
        partitionParents[child.description] = root
        guard try takes(root), parent == root else { return }
        let exists = try target.query("SELECT to_regclass(\(.text(child.quoted))) IS NOT NULL AS e").single("partition").bool("e")
        guard !exists else { return }
        let bound: SQL
        if let from = match.4, let to = match.5 {
            bound = "FOR VALUES FROM (\(try boundValue(String(from)))) TO (\(try boundValue(String(to))))"
        } else {
            bound = "DEFAULT"
        }
        try target.execute("CREATE TABLE \(child) PARTITION OF \(parent) \(bound)")
        try target.execute("SELECT lethe.inherit_parent_privileges(\(.text(parent.quoted))::regclass, \(.text(child.quoted))::regclass)")
        result.partitionsCreated += 1
    }

    /// One bound of the archive, written by Lethe: MINVALUE or MAXVALUE (an adopted table's first partition), whole
    /// epoch seconds (an epoch-seconds key), or a timestamp read by the server. No text of the archive reaches the DDL.
    private func boundValue(_ text: String) throws -> SQL {
        switch text {
        case "MINVALUE": return "MINVALUE"
        case "MAXVALUE": return "MAXVALUE"
        default:
            if let seconds = Int64(text) { return "\(literal: seconds)" }
            return "\(literal: try target.query("SELECT \(.text(text))::timestamptz AS b").single("bound").date("b"))"
        }
    }
}

/// Identifiers as pg_dump writes them (`fmtId`): plain, or double-quoted with `""` for a quote.
enum ArchiveNames {
    static func identifiers(_ text: String) throws -> [SQLIdentifier] {
        var names: [SQLIdentifier] = []
        var current = ""
        var quoted = false
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if quoted {
                if c == "\"" {
                    let next = text.index(after: index)
                    if next < text.endIndex && text[next] == "\"" {
                        current.append("\"")
                        index = next
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "." || c == "," {
                names.append(try SQLIdentifier(catalog: current.trimmingCharacters(in: .whitespaces)))
                current = ""
            } else {
                current.append(c)
            }
            index = text.index(after: index)
        }
        guard !quoted else { throw LetheError.integrity("the backup's dump has a malformed name") }
        names.append(try SQLIdentifier(catalog: current.trimmingCharacters(in: .whitespaces)))
        return names
    }

    static func qualified(_ text: String) throws -> QualifiedName {
        let parts = try identifiers(text)
        guard parts.count == 2 else { throw LetheError.integrity("the backup's dump names a table without its schema") }
        return QualifiedName(schema: parts[0], name: parts[1])
    }

    /// `(id, customer_id, "E""mail")`.
    static func columns(_ text: String) throws -> [SQLIdentifier] {
        let inner = text.trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("("), inner.hasSuffix(")") else { throw LetheError.integrity("the backup's dump has a malformed column list") }
        return try identifiers(String(inner.dropFirst().dropLast()))
    }
}
