import Foundation
import LetheCore
import Policy
import Postgres

/// Reads and creates the range partitions of the policy's partitioned tables.
public struct PartitionCatalog {
    public init() {}

    /// A policy table that is range-partitioned on its timestamp column.
    public struct PartitionedTable: Sendable {
        public let table: TablePolicy
        public let partitions: [Partition]
    }

    /// The policy tables that PostgreSQL stores as partitioned tables, with their partitions.
    public func partitionedTables(_ db: PostgresConnection, policy: RetentionPolicy) throws -> [PartitionedTable] {
        var result: [PartitionedTable] = []
        for table in policy.tables where table.timestampColumn != nil {
            guard try isPartitioned(db, table.name) else { continue }
            result.append(PartitionedTable(table: table, partitions: try partitions(of: table, db)))
        }
        return result
    }

    /// The types of a range partition key whose bounds Lethe reads as instants (a `timestamp` or a `date` as UTC).
    public static let timeKeyTypes: Set<String> = ["timestamp with time zone", "timestamp without time zone", "date"]
    /// The types of an epoch-seconds key (`timestamp_type: epoch_seconds`), whose bounds are whole seconds.
    public static let epochKeyTypes: Set<String> = ["bigint", "integer"]

    /// Why `table`'s partitions cannot be judged by time, if they cannot: its key is not one plain column, not the
    /// policy's timestamp column, or not of a time type. Such a table's old rows are deleted row by row and Lethe
    /// creates none of its partitions; the reason names table, column and type (catalog names, never data).
    public func keyProblem(_ db: PostgresConnection, table: TablePolicy) throws -> String? {
        guard let timestamp = table.timestampColumn else { return nil }
        let rows = try db.query("""
            SELECT p.partstrat::text AS strategy, p.partnatts AS columns, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
            FROM pg_partitioned_table p LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            WHERE p.partrelid = to_regclass(\(.text(table.name.quoted)))
            """).rows
        guard let key = rows.first else { return nil }
        let where_ = "\(table.name) is partitioned"
        guard try key.string("strategy") == "r", try key.int("columns") == 1, let column = try key.optionalString("column") else {
            return "\(where_) by a key that is not one column's range"
        }
        let type = try key.string("type")
        guard column == timestamp.name else {
            return "\(where_) by \(column) (\(type)), not by its policy timestamp column \(timestamp.name)"
        }
        if table.timestampType == .epochSeconds {
            guard Self.epochKeyTypes.contains(type) else {
                return "\(where_) by \(column) of type \(type), not the integer of epoch seconds its policy says (timestamp_type: epoch_seconds)"
            }
            return nil
        }
        guard Self.timeKeyTypes.contains(type) else {
            return "\(where_) by \(column) of type \(type), which Lethe cannot lay out by time (it needs timestamptz, timestamp or date)"
        }
        return nil
    }

    public func isPartitioned(_ db: PostgresConnection, _ name: QualifiedName) throws -> Bool {
        let row = try db.query("""
            SELECT c.relkind = 'p' AS partitioned FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(.text(name.schema.name)) AND c.relname = \(.text(name.name.name))
            """).first
        return try row?.bool("partitioned") ?? false
    }

    /// Every partition of `parent`, whoever made it. Bounds Lethe cannot read are flagged, not fatal: such a
    /// partition is purged row-wise. Bounds are deparsed without a relation (`pg_get_expr(…, 0)`: they are
    /// constants): given the partition, PostgreSQL opens and locks each one, which with a daily layout made this
    /// listing the largest single cost of the daily purge.
    public func partitions(of table: TablePolicy, _ db: PostgresConnection) throws -> [Partition] {
        try partitions(of: table.name, db, epochSeconds: table.timestampType == .epochSeconds)
    }

    public func partitions(of parent: QualifiedName, _ db: PostgresConnection, epochSeconds: Bool = false) throws -> [Partition] {
        let rows = try db.query("""
            SELECT cn.nspname AS schema, c.relname AS name, pg_get_expr(c.relpartbound, 0) AS bound, i.inhdetachpending AS pending
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
            JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
            WHERE pn.nspname = \(.text(parent.schema.name)) AND p.relname = \(.text(parent.name.name))
            ORDER BY c.relname
            """).rows
        return try rows.map { row in
            let name = try QualifiedName(schema: SQLIdentifier(catalog: row.string("schema")), name: SQLIdentifier(catalog: row.string("name")))
            let bound = try row.string("bound")
            let pending = try row.bool("pending")
            guard let bounds = Partition.bounds(fromExpression: bound, epochSeconds: epochSeconds) else {
                return Partition(parent: parent, name: name, from: nil, to: nil, boundClause: bound, boundsUnreadable: true, detachPending: pending)
            }
            return Partition(parent: parent, name: name, from: bounds.from, to: bounds.to, isDefault: bounds.isDefault, boundClause: bound,
                             detachPending: pending)
        }
    }

    /// The name Lethe gives a partition of `parent` starting at `from`: `messages_p2026_11` for a calendar month,
    /// `messages_p2026_11_26` for a day or a week. Names sort by time, months before their days.
    public func partitionName(_ parent: QualifiedName, from: Date, to: Date) throws(LetheError) -> QualifiedName {
        let suffix = PartitionInterval.nameSuffix(start: from, to: to)
        let base = String(parent.name.name.prefix(63 - 2 - suffix.count))
        return QualifiedName(schema: parent.schema, name: try SQLIdentifier("\(base)_p\(suffix)"))
    }

    public struct EnsureReport: Sendable {
        public struct Created: Sendable {
            public let table: QualifiedName
            public let name: QualifiedName
            public let from: Date
            public let to: Date
        }

        public var created: [Created] = []
        public var alreadyPresent = 0
        public var conflicts: [String] = []
        /// Tables whose partitions another tool creates (`partitioning.create: false`).
        public var notManaged: [QualifiedName] = []
        /// Tables pg_partman manages (its `part_config`), whatever the policy says: Lethe makes none of their partitions.
        public var pgPartman: [QualifiedName] = []
    }

    /// Creates the missing partitions of every partitioned policy table at its policy interval, from the
    /// interval holding `from` (default: `now`) through the one holding `now + ahead` (default: the policy's),
    /// and every hole between the table's first partition (or its oldest retained instant, if later) and then.
    public func ensure(_ db: PostgresConnection, policy: RetentionPolicy, now: Date, from: Date? = nil, ahead: ISODuration? = nil,
                       dryRun: Bool = false) throws -> EnsureReport {
        var report = EnsureReport()
        let tables = try partitionedTables(db, policy: policy)
        let authority = try TableAuthority.of(db, tables: tables.map(\.table.name))
        let partman = try PgPartman(db)
        for partitioned in tables {
            let layout = partitioned.table.effectivePartitioning
            if partman.manages(partitioned.table.name) != nil {
                report.pgPartman.append(partitioned.table.name)
                continue
            }
            guard layout.create else {
                report.notManaged.append(partitioned.table.name)
                continue
            }
            if let problem = try keyProblem(db, table: partitioned.table) {
                report.conflicts.append("\(problem); no partition was created for it. HINT: partition it by its timestamp column, "
                                        + "or say partitioning: { create: false } and let the tool that made it create them")
                continue
            }
            let through = (ahead ?? layout.ahead).added(to: now)
            let continuous = PartitionGapPlan.continuousFrom(existing: partitioned.partitions, now: now, table: partitioned.table)
            let plan = PartitionGapPlan(interval: layout.interval, from: min(from ?? now, continuous), through: through, existing: partitioned.partitions)
            report.alreadyPresent += plan.alreadyPresent
            for range in plan.coalesced(before: layout.interval.start(containing: min(from ?? now, now))) {
                let name = try partitionName(partitioned.table.name, from: range.from, to: range.to)
                if !dryRun {
                    do {
                        try create(db, parent: partitioned.table.name, name: name, range: range, time: TimeColumn(partitioned.table), authority: authority)
                    } catch let error as PostgresError {
                        report.conflicts.append("\(name) \(range): \(error.message)")
                        continue
                    }
                }
                report.created.append(.init(table: partitioned.table.name, name: name, from: range.from, to: range.to))
            }
        }
        return report
    }

    /// Creates one partition as a table of its own, then attaches it: `CREATE TABLE … PARTITION OF` would take
    /// ACCESS EXCLUSIVE on the parent and stop inserts, `ATTACH PARTITION` takes SHARE UPDATE EXCLUSIVE, which
    /// they pass. The new table is empty, so the attach validates nothing. Bounds are literals Lethe formats
    /// itself from dates (no outside text).
    func create(_ db: PostgresConnection, parent: QualifiedName, name: QualifiedName, range: PartitionGapPlan.Range, time: TimeColumn?,
                authority: TableAuthority = .owner) throws {
        func bound(_ date: Date) -> SQL { time?.boundLiteral(date) ?? "\(literal: date)" }
        try LockTimeoutRetry(attempts: 5).transaction(db, "creating \(name)") {
            try db.execute("SET LOCAL lock_timeout = '2s'")
            guard authority == .owner else {
                // The same two steps, run as the table's owner by the guarded function (migration 0015).
                try db.execute("SELECT lethe.create_partition(\(.text(parent.description)), \(.text(name.name.name)), \(.text(Timestamps.iso(range.from)))::timestamptz, \(.text(Timestamps.iso(range.to)))::timestamptz)")
                return
            }
            try db.execute("CREATE TABLE \(name) (LIKE \(parent) INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)")
            // The parent's grants (the duty roles'), which a new table does not inherit (migration 0018).
            try db.execute("SELECT lethe.inherit_parent_privileges(\(.text(parent.quoted))::regclass, \(.text(name.quoted))::regclass)")
            try db.execute("""
                ALTER TABLE \(parent) ATTACH PARTITION \(name)
                FOR VALUES FROM (\(bound(range.from))) TO (\(bound(range.to)))
                """)
        }
    }
}

