import Foundation
import LetheCore
import Postgres
import Schema

/// A database timestamp kept in PostgreSQL's exact text form, so a cutoff read from the database clock
/// is bound back without rounding (Date carries only ~microsecond precision, ISO text milliseconds).
public struct DatabaseTime: Sendable, Encodable, Comparable {
    public let text: String
    public let date: Date

    init(text: String) throws {
        guard let date = PostgresTimestamp.parse(text) else { throw LetheError.software("unreadable timestamp from the database") }
        self.text = text
        self.date = date
    }

    var sql: SQLValue { .text(text) }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Timestamps.isoFractional(date))
    }

    public static func < (lhs: DatabaseTime, rhs: DatabaseTime) -> Bool { lhs.date < rhs.date }
    public static func == (lhs: DatabaseTime, rhs: DatabaseTime) -> Bool { lhs.text == rhs.text }
}

/// What a purge run may touch.
public struct PurgeScope: Sendable, Encodable, Equatable {
    public var customer: Int64?
    public var table: String?

    public init(customer: Int64? = nil, table: String? = nil) {
        self.customer = customer
        self.table = table
    }
}

/// Rows of one customer; `customerId` nil for rows without a customer (a nullable customer column), which
/// follow the table's retention.
public struct CustomerRows: Sendable, Encodable, Equatable {
    public let customerId: Int64?
    public let rows: Int64

    /// `customerId` is written as `null`, not left out: a report's reader sees rows without a customer as such.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(customerId, forKey: .customerId)
        try container.encode(rows, forKey: .rows)
    }

    private enum CodingKeys: String, CodingKey { case customerId, rows }
}

public struct HeldCustomer: Sendable, Encodable {
    public let customerId: Int64
    public let holdId: Int64
    public let reason: String
    public let until: Date?
}

public struct CustomerCutoff: Sendable, Encodable {
    public let customerId: Int64
    public let period: String
    public let cutoff: DatabaseTime
}

/// A monthly partition whose whole range is past the table's cutoff: detached and dropped whole. Rows of
/// customers on hold in it (`keptRows`) are first copied into a fresh partition with the same bounds,
/// which takes its place; `rows` counts only what is removed.
public struct PartitionDrop: Sendable, Encodable, Equatable {
    public let partition: String
    public let rows: Int64
    public let keptRows: Int64
    let name: QualifiedName
    let boundClause: String?

    enum CodingKeys: String, CodingKey { case partition, rows, keptRows }
}

/// Rows deleted in bounded batches from one leaf (a partition, or an unpartitioned table).
public struct RowSweep: Sendable, Encodable {
    public enum Kind: String, Sendable, Encodable {
        /// Every customer not on hold, rows older than the table's cutoff.
        case tableCutoff
        /// Customers with a shorter retention, rows between the table's cutoff and each one's own.
        case customerCutoffs
    }

    /// How batches find their rows.
    public enum Method: String, Sendable, Encodable {
        /// Ranges of heap blocks (TID range scans): each batch reads only its blocks, once.
        case blockRanges
        /// Through the customer index, one customer at a time: for customers holding few of the leaf's rows.
        case customerIndex
    }

    public let leaf: String
    public let kind: Kind
    public let method: Method
    public let customerIds: [Int64]
    public let rowsByCustomer: [CustomerRows]
    let leafName: QualifiedName
    let customerCutoffs: [CustomerCutoff]

    enum CodingKeys: String, CodingKey { case leaf, kind, method, customerIds, rowsByCustomer }
}

public struct TablePlan: Sendable, Encodable {
    public let table: String
    public let retention: String
    /// now - min(P6M, the table's retention): every customer's rows older than this go.
    public let tableCutoff: DatabaseTime
    /// Customers whose own, shorter retention gives a later cutoff.
    public let customerCutoffs: [CustomerCutoff]
    public let partitionDrops: [PartitionDrop]
    public let rowSweeps: [RowSweep]
    public let keptByHold: [CustomerRows]
    /// What the planner could not do as usual (partitions with unreadable bounds, purged row-wise instead).
    public let warnings: [String]
    let name: QualifiedName
    let timestampColumn: TimeColumn
    /// The row's customer id in SQL (`CustomerKey.sql`).
    let customerColumn: SQL
    let isPartitioned: Bool
    /// PostgreSQL refuses DETACH … CONCURRENTLY on a table with a DEFAULT partition.
    let hasDefaultPartition: Bool
    /// Partitions another session left "detach pending" (an interrupted `DETACH … CONCURRENTLY` by an operator or
    /// pg_partman) whose bounds lie wholly past the table cutoff: the run finalizes them and drops them (or attaches
    /// them back if a customer on hold has rows there), as it does its own.
    var pendingToFinish: [Partition] = []

    enum CodingKeys: String, CodingKey { case table, retention, tableCutoff, customerCutoffs, partitionDrops, rowSweeps, keptByHold, warnings }

    /// Rows the row-wise sweeps will delete, per customer.
    public var sweptRowsByCustomer: [CustomerRows] { CustomerRows.merge(rowSweeps.flatMap(\.rowsByCustomer)) }
}

/// Everything a purge will do, decided before anything is deleted. `--dry-run` prints it; the
/// executor carries it out; tests compare the two.
public struct PurgePlan: Sendable, Encodable {
    public let now: DatabaseTime
    public let ceilingCutoff: DatabaseTime
    public let policyHash: String
    public let scope: PurgeScope
    public let holds: [HeldCustomer]
    public let tables: [TablePlan]
}

extension CustomerRows {
    static func merge(_ rows: [CustomerRows]) -> [CustomerRows] {
        var totals: [Int64?: Int64] = [:]
        for row in rows { totals[row.customerId, default: 0] += row.rows }
        // Rows without a customer first, then by customer id.
        return totals.filter { $0.value > 0 }.sorted { ($0.key ?? .min) < ($1.key ?? .min) }.map { CustomerRows(customerId: $0.key, rows: $0.value) }
    }
}

extension PartitionDrop {
    /// Moving held rows costs a copy of them; sweeping costs a delete of the others. Move while held rows are
    /// at most a tenth of the partition.
    static func worthDropping(total: Int64, held: Int64) -> Bool { held * 10 <= total }
}
