import Foundation
import LetheCore

/// What a purge did (or, for `--dry-run`, would do). `--json` prints it; it mirrors the ledger record.
public struct PurgeReport: Sendable, Encodable {
    public struct TableReport: Sendable, Encodable {
        public let table: String
        public let retention: String
        public let tableCutoff: DatabaseTime
        public let customerCutoffs: [CustomerCutoff]
        public let partitionsDropped: [PartitionDrop]
        public let rowsDeleted: [CustomerRows]
        public let keptByHold: [CustomerRows]

        public var totalRows: Int64 { partitionsDropped.reduce(0) { $0 + $1.rows } + rowsDeleted.reduce(0) { $0 + $1.rows } }
    }

    public let runId: Int64?
    public let dryRun: Bool
    public let status: String
    public let databaseClock: DatabaseTime
    public let ceilingCutoff: DatabaseTime
    public let policyHash: String
    public let scope: PurgeScope
    public let holds: [HeldCustomer]
    public let tables: [TableReport]
    public let interruptedRunsFound: [Int64]
    public let check: [CheckFinding]?

    public var checkPassed: Bool { check?.isEmpty ?? true }

    static func dryRun(_ plan: PurgePlan) -> PurgeReport {
        PurgeReport(runId: nil, dryRun: true, status: "dry-run", databaseClock: plan.now, ceilingCutoff: plan.ceilingCutoff,
                    policyHash: plan.policyHash, scope: plan.scope, holds: plan.holds,
                    tables: plan.tables.map {
                        TableReport(table: $0.table, retention: $0.retention, tableCutoff: $0.tableCutoff, customerCutoffs: $0.customerCutoffs,
                                    partitionsDropped: $0.partitionDrops, rowsDeleted: $0.sweptRowsByCustomer, keptByHold: $0.keptByHold)
                    }, interruptedRunsFound: [], check: nil)
    }

    static func completed(_ plan: PurgePlan, run: Int64, status: String, items: [PurgeLedger.Item], interrupted: [Int64],
                          check: [CheckFinding]) throws -> PurgeReport {
        let tables = try plan.tables.map { table in
            let mine = items.filter { $0.table == table.table }
            return TableReport(
                table: table.table, retention: table.retention, tableCutoff: table.tableCutoff, customerCutoffs: table.customerCutoffs,
                partitionsDropped: try mine.compactMap { item in
                    try item.partition.map { PartitionDrop(partition: $0, rows: item.rows, keptRows: item.keptRows, name: try QualifiedName(parsing: $0), boundClause: nil) }
                },
                rowsDeleted: CustomerRows.merge(mine.filter { $0.partition == nil }.map { CustomerRows(customerId: $0.customerId, rows: $0.rows) }),
                keptByHold: table.keptByHold)
        }
        return PurgeReport(runId: run, dryRun: false, status: status, databaseClock: plan.now, ceilingCutoff: plan.ceilingCutoff,
                           policyHash: plan.policyHash, scope: plan.scope, holds: plan.holds, tables: tables,
                           interruptedRunsFound: interrupted, check: check)
    }
}
