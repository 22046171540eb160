import LetheCore
import Policy
import Postgres

/// What pg_partman manages in this database (`part_config` in the extension's schema), so that Lethe never makes
/// partitions pg_partman also makes (it names them the same way, then stops premaking and fails on an overlap),
/// and says when pg_partman's own retention would keep personal data: `retention_keep_table = true` detaches
/// expired partitions and leaves them as plain tables that no purge of the parent reaches.
public struct PgPartman {
    public struct Managed: Sendable, Equatable {
        public let parent: QualifiedName
        /// pg_partman's `retention` (an interval as text), nil when it drops nothing.
        public let retention: String?
        public let keepTable: Bool
    }

    /// The tables pg_partman manages; empty without the extension.
    public let managed: [String: Managed]

    public init(_ db: PostgresConnection) throws {
        guard let schema = try db.query("""
            SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'
            """).first?.string("schema") else {
            managed = [:]
            return
        }
        let config = QualifiedName(schema: try SQLIdentifier(catalog: schema), name: try SQLIdentifier("part_config"))
        var managed: [String: Managed] = [:]
        for row in try db.query("SELECT parent_table, retention, retention_keep_table FROM \(config)").rows {
            guard let parent = try? QualifiedName(parsing: try row.string("parent_table")) else { continue }
            managed[parent.description] = Managed(parent: parent, retention: try row.optionalString("retention"), keepTable: try row.bool("retention_keep_table"))
        }
        self.managed = managed
    }

    public func manages(_ table: QualifiedName) -> Managed? { managed[table.description] }

    /// What is wrong with pg_partman's retention of `table` for Lethe's: it keeps the tables it detaches, or it
    /// keeps partitions longer than the policy's retention (only Lethe's purge then deletes their rows, row by row).
    public func retentionProblems(_ table: TablePolicy, db: PostgresConnection) throws -> [(what: String, hint: String)] {
        guard let managed = manages(table.name) else { return [] }
        var problems: [(String, String)] = []
        let config = "UPDATE part_config SET retention_keep_table = false WHERE parent_table = '\(table.name)'"
        if managed.keepTable && managed.retention != nil {
            problems.append(("pg_partman detaches expired partitions of \(table.name) and keeps them as tables (retention_keep_table = true): no purge reaches their rows",
                             "\(config); then drop the tables it kept ('lethe inspect' lists them)"))
        }
        if let retention = table.retention, let theirs = managed.retention {
            let longer = try db.query("SELECT \(.text(theirs))::interval > make_interval(months => \(.int(Int64(retention.months)))::int, days => \(.int(Int64(retention.days)))::int, secs => \(.int(Int64(retention.seconds)))::int) AS longer")
                .single("longer").bool("longer")
            if longer {
                problems.append(("pg_partman keeps partitions of \(table.name) for \(theirs), longer than the policy's \(retention)",
                                 "set part_config.retention for \(table.name) to at most the policy's retention, or leave retention to Lethe (retention = NULL)"))
            }
        }
        return problems
    }

    /// Plain tables pg_partman detached from `parent` and kept (`<parent>_p<suffix>`, in the parent's schema or
    /// pg_partman's `retention_schema`), with their row counts.
    public func keptTables(of parent: QualifiedName, db: PostgresConnection) throws -> [(name: QualifiedName, rows: Int64)] {
        guard manages(parent) != nil else { return [] }
        let rows = try db.query("""
            SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND NOT c.relispartition AND n.nspname = \(.text(parent.schema.name)) AND starts_with(c.relname, \(.text(parent.name.name + "_p")))
            ORDER BY 2
            """).rows
        return try rows.map { row in
            let name = try QualifiedName(schema: SQLIdentifier(catalog: row.string("schema")), name: SQLIdentifier(catalog: row.string("name")))
            return (name, try db.query("SELECT count(*) AS n FROM \(name)").single("n").int("n"))
        }
    }
}
