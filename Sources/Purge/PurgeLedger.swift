import Audit
import Foundation
import LetheCore
import Postgres

/// `lethe.purge_runs` and `lethe.purge_run_items`: what each run set out to do and what it removed.
struct PurgeLedger {
    /// `purge_run_items.customer_id` of rows without a customer (the key cannot be NULL; -1 marks a whole partition).
    static let noCustomer: Int64 = -2

    let db: PostgresConnection

    /// Runs left 'running' by a killed process. Only called while holding the purge lock, so none is live.
    func markInterrupted() throws -> [Int64] {
        try db.transaction {
            let ids = try db.query("""
                UPDATE lethe.purge_runs SET status = 'interrupted', error = 'no end recorded: the process was killed or lost its connection'
                WHERE status = 'running' RETURNING id
                """).rows.map { try $0.int("id") }
            for id in ids { try AuditLog.append(db, action: "purge.interrupted", target: "purge run \(id)") }
            return ids
        }
    }

    func start(_ plan: PurgePlan) throws -> Int64 {
        var tables: [String: AuditValue] = [:]
        for table in plan.tables {
            var customers: [String: AuditValue] = [:]
            for cutoff in table.customerCutoffs { customers[String(cutoff.customerId)] = .string(cutoff.cutoff.text) }
            tables[table.table] = .object(["table_cutoff": .string(table.tableCutoff.text), "retention": .string(table.retention),
                                           "customers": .object(customers)])
        }
        let cutoffs = AuditValue.object(["ceiling": .string(plan.ceilingCutoff.text), "tables": .object(tables)])
        let scope = AuditValue.object(["customer": plan.scope.customer.map { .int($0) } ?? .null,
                                       "table": plan.scope.table.map { .string($0) } ?? .null])
        return try db.query("""
            INSERT INTO lethe.purge_runs (started_at, status, policy_hash, ceiling_cutoff, cutoffs, scope, os_user)
            VALUES (\(plan.now.sql)::timestamptz, 'running', \(.text(plan.policyHash)), \(plan.ceilingCutoff.sql)::timestamptz, \(.text(cutoffs.json))::jsonb, \(.text(scope.json))::jsonb, \(.text(OperatorIdentity.osUser))) RETURNING id
            """).single("purge run").int("id")
    }

    func finish(run: Int64, status: String, check: [CheckFinding]?, error: String?) throws {
        let checkJSON = check.map { findings in
            AuditValue.object(["passed": .bool(findings.isEmpty), "remaining": .array(findings.map {
                .object(["table": .string($0.table), "customer_id": $0.customerId.map(AuditValue.int) ?? .null, "rows": .int($0.rows)])
            })]).json
        }
        try db.execute("""
            UPDATE lethe.purge_runs SET status = \(.text(status)), finished_at = clock_timestamp(), check_result = \(checkJSON.sqlValue)::jsonb, error = \(error.sqlValue) WHERE id = \(.int(run))
            """)
    }

    struct Item {
        let table: String
        let customerId: Int64?
        let partition: String?
        let rows: Int64
        let keptRows: Int64
    }

    func items(run: Int64) throws -> [Item] {
        try db.query("""
            SELECT table_name, customer_id, partition_name, rows_deleted, rows_kept FROM lethe.purge_run_items WHERE run_id = \(.int(run))
            ORDER BY table_name, partition_name, customer_id
            """).rows.map { row in
            let customer = try row.int("customer_id")
            let partition = try row.string("partition_name")
            return Item(table: try row.string("table_name"), customerId: customer < 0 ? nil : customer,
                        partition: partition.isEmpty ? nil : partition, rows: try row.int("rows_deleted"),
                        keptRows: try row.int("rows_kept"))
        }
    }

    struct RunSummary: Sendable, Encodable {
        let id: Int64
        let startedAt: Date
        let finishedAt: Date?
        let status: String
        let rowsDeleted: Int64
        let partitionsDropped: Int64
    }

    func recentRuns(limit: Int) throws -> [RunSummary] {
        try db.query("""
            SELECT r.id, r.started_at, r.finished_at, r.status,
                   coalesce(sum(i.rows_deleted), 0) AS rows, coalesce(sum(i.partitions_dropped), 0) AS partitions
            FROM lethe.purge_runs r LEFT JOIN lethe.purge_run_items i ON i.run_id = r.id
            GROUP BY r.id ORDER BY r.id DESC LIMIT \(.int(Int64(limit)))
            """).rows.map {
            RunSummary(id: try $0.int("id"), startedAt: try $0.date("started_at"), finishedAt: try $0.optionalDate("finished_at"),
                       status: try $0.string("status"), rowsDeleted: try $0.int("rows"), partitionsDropped: try $0.int("partitions"))
        }
    }
}
