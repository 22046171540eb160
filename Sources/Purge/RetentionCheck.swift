import LetheCore
import Postgres
import Schema

/// Rows still older than their customer's cutoff, outside holds, after a run.
public struct CheckFinding: Sendable, Encodable, Equatable {
    public let table: String
    public let customerId: Int64?
    public let rows: Int64
}

/// The end-of-run check: with the run's own clock and cutoffs, no row past its customer's cutoff may
/// remain unless its customer is on hold. Uses the same predicates as the sweeps (index- and pruning-friendly).
struct RetentionCheck {
    let db: PostgresConnection

    /// With `slack` (seconds), only rows past their cutoff by more than that.
    func findings(_ plan: PurgePlan, slack: Int64 = 0) throws -> [CheckFinding] {
        var findings: [CheckFinding] = []
        for table in plan.tables {
            let sql = PurgeSQL(time: table.timestampColumn, customer: table.customerColumn)
            let rows = try db.query(sql.countByCustomer(table.name, where: sql.tableCutoff(table.tableCutoff, now: plan.now, customer: plan.scope.customer, slack: slack)))
                .customerRows()
            findings += rows.map { CheckFinding(table: table.table, customerId: $0.customerId, rows: $0.rows) }
            if !table.customerCutoffs.isEmpty {
                let pastOwnCutoffs = sql.customerCutoffs(tableCutoff: table.tableCutoff, now: plan.now, cutoffs: table.customerCutoffs, slack: slack)
                let rows = try db.query(sql.countByCustomer(table.name, where: pastOwnCutoffs)).customerRows()
                findings += rows.map { CheckFinding(table: table.table, customerId: $0.customerId, rows: $0.rows) }
            }
        }
        return findings
    }
}
