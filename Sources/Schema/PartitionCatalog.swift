import Foundation
import LetheCore
import Policy
import Postgres

/// Reads and creates monthly range partitions of the policy's partitioned tables.
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
            result.append(PartitionedTable(table: table, partitions: try partitions(of: table.name, db)))
        }
        return result
    }

    public func isPartitioned(_ db: PostgresConnection, _ name: QualifiedName) throws -> Bool {
        let row = try db.query("""
            SELECT c.relkind = 'p' AS partitioned FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2
            """, [.text(name.schema.name), .text(name.name.name)]).first
        return try row?.bool("partitioned") ?? false
    }

    public func partitions(of parent: QualifiedName, _ db: PostgresConnection) throws -> [Partition] {
        let rows = try db.query("""
            SELECT cn.nspname AS schema, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
            JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
            WHERE pn.nspname = $1 AND p.relname = $2
            ORDER BY c.relname
            """, [.text(parent.schema.name), .text(parent.name.name)]).rows
        return try rows.map { row in
            let name = try QualifiedName(schema: SQLIdentifier(row.string("schema")), name: SQLIdentifier(row.string("name")))
            let bound = try row.string("bound")
            guard let bounds = Partition.bounds(fromExpression: bound) else {
                throw LetheError.config("partition \(name) of \(parent) has bounds Lethe cannot read",
                                        hint: "Lethe manages monthly RANGE partitions on a timestamptz column")
            }
            return Partition(parent: parent, name: name, from: bounds.from, to: bounds.to, isDefault: bounds.isDefault, boundClause: bound)
        }
    }

    /// The name Lethe gives the partition of `parent` for `month`: `messages_p2026_11`.
    public func partitionName(_ parent: QualifiedName, _ month: Month) throws(LetheError) -> QualifiedName {
        let base = String(parent.name.name.prefix(63 - 9))
        return QualifiedName(schema: parent.schema, name: try SQLIdentifier("\(base)_p\(month.suffix)"))
    }

    public struct EnsureReport: Sendable {
        public var created: [QualifiedName] = []
        public var alreadyPresent = 0
        public var conflicts: [String] = []
    }

    /// Creates the missing monthly partitions of every partitioned policy table for `months`.
    public func ensure(_ db: PostgresConnection, policy: RetentionPolicy, months: [Month], dryRun: Bool = false) throws -> EnsureReport {
        var report = EnsureReport()
        for partitioned in try partitionedTables(db, policy: policy) {
            let plan = PartitionGapPlan(wanted: months, existing: partitioned.partitions)
            report.alreadyPresent += months.count - plan.missing.count - plan.conflicts.count
            report.conflicts += plan.conflicts.map { "\(partitioned.table.name) \($0): an existing partition covers part of this month" }
            for month in plan.missing {
                let name = try partitionName(partitioned.table.name, month)
                if !dryRun { try create(db, parent: partitioned.table.name, name: name, month: month) }
                report.created.append(name)
            }
        }
        return report
    }

    /// Creates one partition. Bounds are literals Lethe formats itself from a Month (no outside text).
    func create(_ db: PostgresConnection, parent: QualifiedName, name: QualifiedName, month: Month) throws {
        let sql = """
            CREATE TABLE IF NOT EXISTS \(name.quoted) PARTITION OF \(parent.quoted)
            FOR VALUES FROM ('\(month)-01 00:00:00+00') TO ('\(month.next)-01 00:00:00+00')
            """
        try LockRetry.run(db, attempts: 5) {
            try db.execute("SET LOCAL lock_timeout = '2s'")
            try db.execute(sql)
        }
    }
}

/// Runs a short transaction, retrying it when it times out waiting for a lock, so that Lethe's DDL
/// yields to application traffic rather than queueing it behind an exclusive lock.
public enum LockRetry {
    public static func run<T>(_ db: PostgresConnection, attempts: Int, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try db.transaction(body)
            } catch let error as PostgresError where error.isLockTimeout && attempt < attempts {
                attempt += 1
                Thread.sleep(forTimeInterval: Double(attempt) * 0.2)
            }
        }
    }
}
