import LetheCore
import Policy
import Postgres

/// Checks a policy against a live database: every table and column it names exists with a usable type.
public struct PolicyDatabaseCheck {
    public init() {}

    /// Problems as `file:line: tables[i].key: message`; empty when the policy fits the database.
    public func problems(_ policy: RetentionPolicy, db: PostgresConnection) throws -> [String] {
        var problems: [String] = []
        for (index, table) in policy.tables.enumerated() {
            let at = "\(policy.source):\(table.line): tables[\(index)]"
            let columns = try columnTypes(db, table.name)
            guard !columns.isEmpty else {
                problems.append("\(at).table: table \(table.name) does not exist in the database")
                continue
            }
            func expect(_ column: SQLIdentifier?, _ key: String, types: Set<String>) {
                guard let column else { return }
                guard let type = columns[column.name] else {
                    problems.append("\(at).\(key): column \(table.name).\(column) does not exist")
                    return
                }
                if !types.contains(type) {
                    problems.append("\(at).\(key): column \(table.name).\(column) is \(type), expected \(types.sorted().joined(separator: " or "))")
                }
            }
            expect(table.idColumn, "id", types: ["bigint", "integer"])
            if let problem = try rowIdProblem(db, table: table), columns[table.idColumn.name] != nil {
                problems.append("\(at).id: \(problem)")
            }
            if let timestamp = table.timestampColumn, table.timestampType == .epochSeconds {
                expect(timestamp, "timestamp", types: ["bigint", "integer"])
            } else if let timestamp = table.timestampColumn, let type = columns[timestamp.name], ["bigint", "integer"].contains(type) {
                problems.append("\(at).timestamp: column \(table.name).\(timestamp) is \(type): if it holds Unix epoch seconds, say so (timestamp_type: epoch_seconds)")
            } else if let timestamp = table.timestampColumn, columns[timestamp.name] == "timestamp without time zone" {
                if table.timestampZone == nil {
                    problems.append("\(at).timestamp: column \(table.name).\(timestamp) is timestamp without time zone: say how to read it (timestamp_zone: UTC)")
                }
            } else {
                expect(table.timestampColumn, "timestamp", types: ["timestamp with time zone"])
            }
            if let customer = table.customerColumn, let type = columns[customer.name] {
                let text: Set<String> = ["text", "character varying"]
                switch table.customerType {
                case .integer where text.contains(type):
                    problems.append("\(at).customer: column \(table.name).\(customer) is \(type): account names need 'customer_type: text' (Lethe then keys each name by lethe.customer_id)")
                case .integer: expect(customer, "customer", types: ["bigint", "integer"])
                case .text: expect(customer, "customer", types: text)
                }
            } else {
                expect(table.customerColumn, "customer", types: [])
            }
            for (position, column) in table.personalColumns.enumerated() {
                // bytea holds the binary envelope; text its text form (`lethe:v2:…`), sealed in place without ALTER TYPE.
                expect(column, "personal[\(position)]", types: ["bytea", "text", "character varying"])
            }
            for (position, column) in table.clearPersonalColumns.enumerated() {
                expect(column, "personal_clear[\(position)]", types: ["text", "character varying"])
            }
            // A blind index column the table lacks is added by `encrypt migrate` (nullable, no default: no rewrite).
            for (column, indexColumn) in table.blindIndexes.sorted(by: { $0.key < $1.key }) where columns[indexColumn.name] != nil {
                expect(indexColumn, "blind_index.\(column)", types: ["bytea"])
            }
            expect(table.subjectVia?.column, "subject_via.column", types: ["bigint", "integer"])
            for (position, column) in table.operationalColumns.enumerated() where columns[column.name] == nil {
                problems.append("\(at).operational[\(position)]: column \(table.name).\(column) does not exist")
            }
        }
        return problems
    }

    /// Why the table's row id cannot name one row, if it cannot: it may be NULL, or no unique index or primary key
    /// holds it alone (or with the table's timestamp, as a partitioned table's key must). Erasure, tombstones,
    /// exports and sealing (each envelope is bound to its row id) all name rows by it.
    func rowIdProblem(_ db: PostgresConnection, table: TablePolicy) throws -> String? {
        let id = table.idColumn.name
        let row = try db.query("""
            SELECT a.attnotnull AS not_null,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indpred IS NULL
                           AND a.attnum = ANY (i.indkey::int2[])
                           AND (i.indnatts = 1 OR (i.indnatts = 2
                                AND (SELECT attnum FROM pg_attribute WHERE attrelid = a.attrelid AND attname = \(.text(table.timestampColumn?.name ?? ""))) = ANY (i.indkey::int2[])))) AS unique
            FROM pg_attribute a WHERE a.attrelid = to_regclass(\(.text(table.name.quoted))) AND a.attname = \(.text(id)) AND NOT a.attisdropped
            """).first
        guard let row else { return nil }
        let notNull = try row.bool("not_null"), unique = try row.bool("unique")
        guard notNull && unique else {
            let why = [notNull ? nil : "may be NULL", unique ? nil : "is not unique (no primary key or unique index holds it)"].compactMap { $0 }.joined(separator: " and ")
            return "row id \(table.name).\(id) \(why): Lethe names rows by it (erasures, exports, sealed values); name a NOT NULL unique column with id:, or add the key"
        }
        return nil
    }

    /// A table of the policy's schemas that the policy does not list: never purged, left out of backups, and
    /// out of every duty role's reach. `readable` says whether this login may count its rows.
    public struct UndeclaredTable: Sendable, Equatable {
        public let name: QualifiedName
        public let readable: Bool
    }

    /// Tables (partitions count as their parent) of the policy's schemas, schema `lethe` apart, that the policy does not list.
    public func undeclaredTables(_ policy: RetentionPolicy, db: PostgresConnection) throws -> [UndeclaredTable] {
        let schemas = Set(policy.tables.map(\.name.schema.name)).subtracting(["lethe"]).sorted()
        let listed = Set(policy.tables.map(\.name.description))
        return try db.query("""
            SELECT n.nspname AS schema, c.relname AS name, has_table_privilege(c.oid, 'SELECT') AS readable
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY (\(SQLValue.textArray(schemas))::text[]) ORDER BY 1, 2
            """).rows.compactMap { row in
            let name = try QualifiedName(schema: SQLIdentifier(catalog: row.string("schema")), name: SQLIdentifier(catalog: row.string("name")))
            return listed.contains(name.description) ? nil : UndeclaredTable(name: name, readable: try row.bool("readable"))
        }
    }

    private func columnTypes(_ db: PostgresConnection, _ table: QualifiedName) throws -> [String: String] {
        let rows = try db.query("""
            SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(.text(table.schema.name)) AND c.relname = \(.text(table.name.name)) AND a.attnum > 0 AND NOT a.attisdropped
            """).rows
        var types: [String: String] = [:]
        for row in rows { types[try row.string("name")] = try row.string("type") }
        return types
    }
}
