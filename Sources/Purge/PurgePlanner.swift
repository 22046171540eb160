import Foundation
import LetheCore
import LetheCrypto
import Policy
import Postgres
import Schema

/// Builds a `PurgePlan` from the policy, the database clock, overrides, holds and the partitions present.
/// Reads only; counts are exact at the time of planning.
public struct PurgePlanner {
    let db: PostgresConnection
    let policy: RetentionPolicy

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.policy = policy
    }

    /// With `counting` (dry runs) every count is exact; a real run skips the counts it will learn by deleting,
    /// so its planning cost does not grow with the tables (the ledger then records the exact figures).
    public func plan(scope: PurgeScope, counting: Bool = true) throws -> PurgePlan {
        let tables = try tablesInScope(scope)
        // The single time source of the run: the database clock, read once.
        let clock = try db.query("SELECT now()::text AS now, (now() - \(.text(ISODuration.ceiling.description))::interval)::text AS ceiling").single("clock")
        let now = try DatabaseTime(text: clock.string("now"))
        let ceiling = try DatabaseTime(text: clock.string("ceiling"))
        let holds = try activeHolds(at: now)
        // Partitions Lethe's own interrupted runs detached: any other pending detach is another session's.
        let noted = try Set(db.query("SELECT relation FROM lethe.purge_detached").rows.map { try $0.string("relation") })
        var plans: [TablePlan] = []
        for table in tables { plans.append(try plan(table, now: now, scope: scope, holds: holds, noted: noted, counting: counting)) }
        return PurgePlan(now: now, ceilingCutoff: ceiling, policyHash: try SHA256.hex(policy.sourceBytes), scope: scope,
                         holds: holds.filter { scope.customer == nil || $0.customerId == scope.customer }, tables: plans)
    }

    func tablesInScope(_ scope: PurgeScope) throws -> [TablePolicy] {
        let candidates = policy.retentionTables
        guard let wanted = scope.table else { return candidates }
        guard let table = candidates.first(where: { $0.name.description == wanted || $0.name.name.name == wanted }) else {
            throw LetheError.noInput("table \(wanted) is not under retention in \(policy.source)",
                                     hint: "tables under retention: \(candidates.map(\.name.description).joined(separator: ", "))")
        }
        return [table]
    }

    func activeHolds(at now: DatabaseTime) throws -> [HeldCustomer] {
        try db.query("""
            SELECT id, customer_id, reason, until FROM lethe.legal_holds
            WHERE released_at IS NULL AND (until IS NULL OR until > \(now.sql)::timestamptz) ORDER BY customer_id
            """).rows.map {
            HeldCustomer(customerId: try $0.int("customer_id"), holdId: try $0.int("id"), reason: try $0.string("reason"), until: try $0.optionalDate("until"))
        }
    }

    private func plan(_ table: TablePolicy, now: DatabaseTime, scope: PurgeScope, holds: [HeldCustomer], noted: Set<String>,
                      counting: Bool) throws -> TablePlan {
        guard let timestamp = TimeColumn(table), let customer = CustomerKey.sql(table), let retention = table.retention else {
            throw LetheError.software("table \(table.name) has no retention")
        }
        let sql = PurgeSQL(time: timestamp, customer: customer)
        let tableCutoff = try DatabaseTime(text: db.query(
            "SELECT greatest(\(now.sql)::timestamptz - \(.text(ISODuration.ceiling.description))::interval, \(now.sql)::timestamptz - \(.text(retention.description))::interval)::text AS cutoff").single("cutoff").string("cutoff"))
        let heldIds = Set(holds.map(\.customerId))
        let overrides = try db.query("""
            SELECT customer_id, period, greatest(\(tableCutoff.sql)::timestamptz, \(now.sql)::timestamptz - period_interval)::text AS cutoff
            FROM lethe.retention_overrides WHERE \(scope.customer.map { .int($0) } ?? .null)::bigint IS NULL OR customer_id = \(scope.customer.map { .int($0) } ?? .null) ORDER BY customer_id
            """).rows.map {
            CustomerCutoff(customerId: try $0.int("customer_id"), period: try $0.string("period"), cutoff: try DatabaseTime(text: $0.string("cutoff")))
        }.filter { $0.cutoff > tableCutoff }

        let catalog = PartitionCatalog()
        let partitioned = try catalog.isPartitioned(db, table.name)
        let all: [Partition] = partitioned
            ? try catalog.partitions(of: table, db)
            : [Partition(parent: table.name, name: table.name, from: nil, to: nil)]
        // A half-detached partition is no longer the table's: the run finalizes and drops it before planning matters.
        let leaves = all.filter { !$0.detachPending }
        // A key Lethe cannot read as the policy's time (another column, another type): bounds say nothing about
        // the rows' age, so no partition is dropped and the whole table is swept row by row.
        let keyProblem = partitioned ? try catalog.keyProblem(db, table: table) : nil
        var warnings = keyProblem.map { ["\($0): its old rows are deleted row by row, no partition is dropped"] }
            ?? leaves.filter(\.boundsUnreadable).map {
                "partition \($0.name) has bounds Lethe cannot read (\($0.boundClause?.prefix(60) ?? "")); its old rows are deleted row by row"
            }
        // Detaches another session left pending (issue 30, defect 8): while one is pending PostgreSQL refuses every
        // other concurrent detach of the table. Those wholly past the cutoff are finished by the run; a younger one
        // is not Lethe's to finish, so the table's old partitions are swept row by row this time.
        let foreignPending = all.filter { $0.detachPending && !noted.contains($0.name.description) }
        let youngPending = foreignPending.filter { !$0.liesEntirelyBefore(tableCutoff.date) }
        for partition in youngPending {
            warnings.append("partition \(partition.name) was left detach pending by another session and holds rows younger than the cutoff: "
                            + "the old partitions of \(table.name) are swept row by row until it is finished "
                            + "(ALTER TABLE \(table.name) DETACH PARTITION \(partition.name) FINALIZE, or attach it back)")
        }

        // Whole partitions past the table cutoff go by DETACH + DROP. Rows of held customers in one are moved
        // into a rebuilt partition when they are few; otherwise (or when the run is for one customer) the
        // partition is swept row by row, keeping them in place.
        var drops: [PartitionDrop] = []
        var sweepLeaves: [Partition] = []
        for leaf in leaves {
            guard partitioned && keyProblem == nil && scope.customer == nil && youngPending.isEmpty && leaf.liesEntirelyBefore(tableCutoff.date) else {
                sweepLeaves.append(leaf)
                continue
            }
            let (total, held) = try partitionRows(leaf.name, customer: customer, holds: holds, exact: counting)
            if PartitionDrop.worthDropping(total: total, held: held) {
                drops.append(PartitionDrop(partition: leaf.name.description, rows: total - held, keptRows: held, name: leaf.name,
                                           boundClause: leaf.boundClause))
            } else {
                sweepLeaves.append(leaf)
            }
        }

        var sweeps: [RowSweep] = []
        let pastTableCutoff = sql.tableCutoff(tableCutoff, now: now, customer: scope.customer)
        for leaf in sweepLeaves where leaf.from.map({ $0 < tableCutoff.date }) ?? true {
            let rows = !counting ? [] : try db.query(sql.countByCustomer(leaf.name, where: pastTableCutoff)).customerRows()
            sweeps.append(RowSweep(leaf: leaf.name.description, kind: .tableCutoff, method: .blockRanges, customerIds: scope.customer.map { [$0] } ?? [],
                                   rowsByCustomer: rows, leafName: leaf.name, customerCutoffs: []))
        }
        let shortened = overrides.filter { !heldIds.contains($0.customerId) }
        for leaf in sweepLeaves where !shortened.isEmpty {
            let here = shortened.filter { cutoff in
                (leaf.from.map { $0 < cutoff.cutoff.date } ?? true) && (leaf.to.map { $0 > tableCutoff.date } ?? true)
            }
            guard !here.isEmpty else { continue }
            let pastOwnCutoffs = sql.customerCutoffs(tableCutoff: tableCutoff, now: now, cutoffs: here)
            let rows = !counting ? [] : try db.query(sql.countByCustomer(leaf.name, where: pastOwnCutoffs)).customerRows()
            sweeps.append(RowSweep(leaf: leaf.name.description, kind: .customerCutoffs,
                                   method: try sweepMethod(leaf.name, predicate: pastOwnCutoffs),
                                   customerIds: here.map(\.customerId), rowsByCustomer: rows, leafName: leaf.name, customerCutoffs: here))
        }

        return TablePlan(table: table.name.description, retention: retention.description, tableCutoff: tableCutoff,
                         customerCutoffs: overrides, partitionDrops: drops, rowSweeps: sweeps,
                         keptByHold: try keptByHold(table, sql: sql, now: now, tableCutoff: tableCutoff, holds: holds, scope: scope),
                         warnings: warnings, name: table.name, timestampColumn: timestamp, customerColumn: customer,
                         isPartitioned: partitioned, hasDefaultPartition: leaves.contains(where: \.isDefault),
                         pendingToFinish: scope.customer == nil ? foreignPending.filter { $0.liesEntirelyBefore(tableCutoff.date) } : [])
    }

    /// Block ranges read the whole leaf once; the index reads only the customers' rows but pays a random
    /// heap visit for each. In `make bench` (5M rows, three customers holding 30% of them) the index path
    /// deleted 200,000 rows/s and block ranges 127,000, so block ranges are kept for customers holding most
    /// of a leaf; the choice follows the planner's estimate of that share.
    private func sweepMethod(_ leaf: QualifiedName, predicate: SQL) throws -> RowSweep.Method {
        let plan = try db.query("EXPLAIN (FORMAT JSON) SELECT 1 FROM \(leaf) WHERE \(predicate)").first?.values.first ?? nil
        let total = try db.query("SELECT greatest(reltuples, 1)::float8 AS n FROM pg_class WHERE oid = \(.text(leaf.quoted))::regclass")
            .single("reltuples").string("n")
        guard let plan, let range = plan.range(of: "\"Plan Rows\": "), let totalRows = Double(total) else { return .blockRanges }
        let estimate = Double(plan[range.upperBound...].prefix { $0.isNumber || $0 == "." }) ?? totalRows
        return estimate / totalRows > 0.5 ? .blockRanges : .customerIndex
    }

    /// Rows in a partition, and how many belong to held customers: exact, or (for a real run's decision to
    /// drop) the planner's estimate of the total and an index count of the held rows. The drop itself recounts.
    private func partitionRows(_ leaf: QualifiedName, customer: SQL, holds: [HeldCustomer], exact: Bool) throws -> (Int64, Int64) {
        let held = holds.isEmpty ? 0 : try db.query("SELECT count(*) AS n FROM \(leaf) WHERE \(customer) = ANY (\(holds.map(\.customerId))::bigint[])")
            .single("held").int("n")
        if !exact, let estimate = try db.query("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = \(.text(leaf.quoted))::regclass").single("reltuples").optionalInt("n"), estimate >= 0 {
            return (max(estimate, held), held)
        }
        return (try db.query("SELECT count(*) AS n FROM \(leaf)").single("count").int("n"), held)
    }

    /// Rows that would be past their cutoff but are kept because their customer is on hold.
    private func keptByHold(_ table: TablePolicy, sql: PurgeSQL, now: DatabaseTime, tableCutoff: DatabaseTime,
                            holds: [HeldCustomer], scope: PurgeScope) throws -> [CustomerRows] {
        var kept: [CustomerRows] = []
        for hold in holds where scope.customer == nil || scope.customer == hold.customerId {
            let cutoff = try db.query("""
                SELECT coalesce((SELECT greatest(\(tableCutoff.sql)::timestamptz, \(now.sql)::timestamptz - period_interval) FROM lethe.retention_overrides
                                 WHERE customer_id = \(.int(hold.customerId))), \(tableCutoff.sql)::timestamptz)::text AS cutoff
                """).single("cutoff").string("cutoff")
            let rows = try db.query("SELECT count(*) AS n FROM \(table.name) WHERE \(sql.customer) = \(.int(hold.customerId)) AND \(sql.time.name) < \(sql.time.bound("\(.text(cutoff))"))").single("count").int("n")
            if rows > 0 { kept.append(CustomerRows(customerId: hold.customerId, rows: rows)) }
        }
        return kept
    }
}
