import Foundation
import LetheCore
import Logging
import Postgres
import Schema

/// How the executor paces itself against live traffic.
public struct PurgeSettings: Sendable {
    /// `lock_timeout` of every purge transaction: the longest an application statement can queue behind Lethe.
    public var lockTimeoutMilliseconds = 200
    /// Rows a row-wise batch aims at; each batch is its own short transaction.
    public var batchRows = 10_000
    /// Attempts per batch or partition drop before giving up (a drop then falls back to row-wise deletion).
    public var attempts = 20
    /// Detached partitions dropped per transaction: a catch-up run pays one synchronous commit per group.
    public var dropsPerTransaction = 64
    /// Asked by the worker on shutdown: the run stops after its current batch or partition, recorded as interrupted.
    public var stop = StopRequest.never

    public init() {}
}

/// Carries out a `PurgePlan`: partition drops first, then the batched row-wise sweeps. Every batch
/// records its counts in the ledger in the same transaction, so a kill at any instant loses nothing.
final class PurgeExecutor {
    let db: PostgresConnection
    let plan: PurgePlan
    let run: Int64
    let settings: PurgeSettings
    let logger: Logger
    let progress: ((String) -> Void)?
    /// Owner: DDL of its own (concurrent detaches). Guarded: every drop and delete through the functions that
    /// recompute the rules in the database (migration 0015).
    let authority: TableAuthority

    init(db: PostgresConnection, plan: PurgePlan, run: Int64, settings: PurgeSettings, logger: Logger, progress: ((String) -> Void)?,
         authority: TableAuthority = .owner) {
        self.authority = authority
        self.db = db
        self.plan = plan
        self.run = run
        self.settings = settings
        self.logger = logger
        self.progress = progress
    }

    func execute() throws {
        for table in plan.tables {
            let sql = PurgeSQL(time: table.timestampColumn, customer: table.customerColumn)
            // Partitions without held rows leave by a concurrent detach: inserts never wait, in the daily run and in a
            // catch-up alike (grouping plain detaches in exclusive transactions was measured: no faster, and inserts
            // then waited up to 40 ms). Those with held rows, or of a table with a DEFAULT partition (where PostgreSQL
            // refuses CONCURRENTLY), by the short exclusive detach that rebuilds them.
            // Guarded (no ownership): each partition by the function's short exclusive detach and drop; DETACH …
            // CONCURRENTLY cannot run inside a function, so inserts may wait up to lock_timeout here.
            let concurrent = table.hasDefaultPartition || authority == .guarded ? [] : table.partitionDrops.filter { $0.keptRows == 0 }
            // Rows past the cutoff go first (truncated partitions, then the row sweeps of partly expired ones); the
            // empty shells are detached and dropped after, which a catch-up spends most of its time on.
            try truncateFirst(concurrent, of: table)
            var swept: Set<String> = []
            for sweep in table.rowSweeps where !concurrent.isEmpty {
                try runSweep(sweep, of: table, sql: sql)
                swept.insert(sweep.leaf + "|" + sweep.kind.rawValue)
            }
            var fallbacks = try dropConcurrently(concurrent, of: table)
            for drop in table.partitionDrops where !concurrent.contains(drop) {
                try settings.stop.check("before detaching \(drop.partition)")
                if try authority == .guarded ? dropPartitionGuarded(drop, of: table) : dropPartition(drop, of: table) {
                    logger.info("dropped partition", metadata: ["table": "\(table.table)", "partition": "\(drop.partition)", "rows": .stringConvertible(drop.rows)])
                    progress?("dropped \(drop.partition) (\(drop.rows) rows)")
                } else {
                    fallbacks.append(drop.name)
                }
            }
            let fallbackSweeps = fallbacks.map {
                RowSweep(leaf: $0.description, kind: .tableCutoff, method: .blockRanges, customerIds: [], rowsByCustomer: [],
                         leafName: $0, customerCutoffs: [])
            }
            for sweep in fallbackSweeps + table.rowSweeps where !swept.contains(sweep.leaf + "|" + sweep.kind.rawValue) {
                try runSweep(sweep, of: table, sql: sql)
            }
        }
    }

    private func runSweep(_ sweep: RowSweep, of table: TablePlan, sql: PurgeSQL) throws {
        let deleted = try self.sweep(sweep, of: table, sql: sql)
        logger.info("swept", metadata: ["table": "\(table.table)", "leaf": "\(sweep.leaf)", "kind": "\(sweep.kind.rawValue)",
                                        "method": "\(sweep.method.rawValue)", "rows": .stringConvertible(deleted)])
        if deleted > 0 { progress?("deleted \(deleted) rows from \(sweep.leaf)") }
    }

    /// Empties the partitions a concurrent detach will remove, a few per short transaction (see `truncate`).
    private func truncateFirst(_ drops: [PartitionDrop], of table: TablePlan) throws {
        // Their rows made unreachable first: TRUNCATE, a few partitions per short transaction (ACCESS EXCLUSIVE on
        // those old partitions only; inserts go to today's). The catch-up's "no row past the cutoff" is reached here,
        // in seconds, instead of after every two-phase detach; the empty shells are detached and dropped after.
        for group in stride(from: 0, to: drops.count, by: Self.truncatesPerTransaction).map({ Array(drops[$0..<min($0 + Self.truncatesPerTransaction, drops.count)]) }) {
            try settings.stop.check("before truncating \(group[0].partition)")
            do {
                try truncate(group, of: table)
            } catch let error as PostgresError where error.isLockTimeout {
                // A long query reads the table (it holds every partition it scanned): waiting group after group would
                // only add lock_timeout each time. The detach below removes them as they are, row counts and all.
                logger.info("could not lock partitions to truncate them first; detaching them as they are", metadata: ["first": "\(group[0].partition)"])
                break
            }
        }
    }

    private func sweep(_ sweep: RowSweep, of table: TablePlan, sql: PurgeSQL) throws -> Int64 {
        if authority == .guarded { return try sweepGuarded(sweep, of: table) }
        switch (sweep.kind, sweep.method) {
        case (.tableCutoff, _):
            return try sweepByBlocks(sweep, of: table, predicate: sql.tableCutoff(table.tableCutoff, now: plan.now, customer: plan.scope.customer))
        case (.customerCutoffs, .blockRanges):
            return try sweepByBlocks(sweep, of: table,
                                     predicate: sql.customerCutoffs(tableCutoff: table.tableCutoff, now: plan.now, cutoffs: sweep.customerCutoffs))
        case (.customerCutoffs, .customerIndex):
            var total: Int64 = 0
            for cutoff in sweep.customerCutoffs {
                total += try sweepByIndex(sweep, of: table, predicate: sql.customerCutoffs(tableCutoff: table.tableCutoff, now: plan.now, cutoffs: [cutoff]))
            }
            return total
        }
    }

    /// Detaches each partition with `DETACH PARTITION … CONCURRENTLY` (inserts never wait), after noting it in
    /// `lethe.purge_detached`, and drops the detached tables in groups. Returns the partitions that could not be
    /// detached and must be swept row-wise instead.
    private func dropConcurrently(_ drops: [PartitionDrop], of table: TablePlan) throws -> [QualifiedName] {
        guard !drops.isEmpty else { return [] }
        let detacher = PartitionDetach(db: db, lockTimeoutMilliseconds: settings.lockTimeoutMilliseconds, attempts: settings.attempts, logger: logger)
        let dropper = DetachedPartitions(db: db, run: run, customerColumns: [table.table: table.customerColumn],
                                         lockTimeoutMilliseconds: settings.lockTimeoutMilliseconds, logger: logger)
        // The detaches' own commits need not wait for the disk: a crash forgets at most the last few, which the
        // notes and the next run repair. Drops still commit synchronously (PostgreSQL forces it when files go).
        try db.setParameter("synchronous_commit", "off")
        defer { _ = try? db.execute("RESET synchronous_commit") }
        var fallbacks: [QualifiedName] = []
        var detached: [PartitionDrop] = []
        func flush() throws {
            let outcome = try dropper.finish(detached.map(\.name.description))
            for drop in detached where !outcome.reattached.contains(drop.name.description) {
                logger.info("dropped partition", metadata: ["table": "\(table.table)", "partition": "\(drop.partition)"])
                progress?("dropped \(drop.partition)")
            }
            detached = []
        }
        for drop in drops {
            if settings.stop.isRequested {
                try flush()
                try settings.stop.check("before detaching \(drop.partition)")
            }
            try db.execute("""
                INSERT INTO lethe.purge_detached (relation, run_id, table_name, partition_name, rows_kept, bound, holds_checked)
                VALUES (\(.text(drop.name.description)), \(.int(run)), \(.text(table.table)), \(.text(drop.partition)), 0, \(drop.boundClause.sqlValue), false) ON CONFLICT (relation) DO NOTHING
                """)
            do {
                try detacher.detach(drop.name, from: table.name)
            } catch let error as PostgresError where error.isLockTimeout {
                if try detacher.state(of: drop.name) == .attached {
                    try dropper.forget(drop.name.description)
                    logger.warning("could not detach a partition; sweeping it row by row", metadata: ["partition": "\(drop.partition)"])
                    fallbacks.append(drop.name)
                } else {
                    logger.warning("partition left detach pending; the next run finishes it", metadata: ["partition": "\(drop.partition)"])
                }
                continue
            }
            detached.append(drop)
            if detached.count >= settings.dropsPerTransaction { try flush() }
        }
        try flush()
        return fallbacks
    }

    /// Empties `drops` (partitions wholly past the cutoff, without held rows at plan time) in one transaction with
    /// holds frozen: each one's rows are counted into the run's ledger and the partitions truncated together. A
    /// partition that a hold placed since the plan now covers is left for the detach path, which keeps held rows.
    private func truncate(_ drops: [PartitionDrop], of table: TablePlan) throws {
        // One attempt: a partition a long query still reads is left to the detach, which waits for no lock.
        try db.transaction {
                try beginBatch()
                let held = try LegalHolds.activeCustomerIds(db, at: plan.now.sql)
                var emptied: [QualifiedName] = []
                for drop in drops {
                    try db.execute("LOCK TABLE \(drop.name) IN ACCESS EXCLUSIVE MODE")
                    if !held.isEmpty, try db.query("SELECT EXISTS (SELECT 1 FROM \(drop.name) WHERE \(table.customerColumn) = ANY (\(held)::bigint[])) AS h").single("held").bool("h") {
                        continue
                    }
                    let rows = try db.query("SELECT count(*) AS n FROM \(drop.name)").single("count").int("n")
                    try db.execute("""
                        INSERT INTO lethe.purge_run_items (run_id, table_name, partition_name, rows_deleted, rows_kept, partitions_dropped)
                        VALUES (\(.int(run)), \(.text(table.table)), \(.text(drop.partition)), \(.int(rows)), 0, 0)
                        ON CONFLICT (run_id, table_name, customer_id, partition_name) DO UPDATE
                        SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted
                        """)
                    emptied.append(drop.name)
                }
                guard !emptied.isEmpty else { return }
                try db.execute("TRUNCATE \(emptied.map { "\($0)" as SQL }.joined(separator: ", "))")
        }
        for drop in drops { progress?("emptied \(drop.partition)") }
    }

    /// Partitions truncated per transaction before their detach (each held ACCESS EXCLUSIVE until its commit).
    static let truncatesPerTransaction = 16

    /// Removes a whole partition in two short transactions. The first holds the parent's lock only to detach
    /// the partition, count its held rows through the customer index, copy those (if few) into a rebuilt
    /// partition with the same bounds, and park the detached table in schema lethe with a note in
    /// `lethe.purge_detached`. The second counts and drops the parked table without locking anything the
    /// application uses. Returns false when the partition must be swept row-wise instead.
    private func dropPartition(_ drop: PartitionDrop, of table: TablePlan) throws -> Bool {
        struct SweepInstead: Error {}
        let parked = QualifiedName(schema: try SQLIdentifier("lethe"),
                                   name: try SQLIdentifier("detached_r\(run)_" + String(drop.name.name.name.prefix(40))))
        do {
            try withLockRetry("detaching \(drop.partition)") {
                try db.transaction {
                    try beginBatch()
                    let held = try LegalHolds.activeCustomerIds(db, at: plan.now.sql)
                    try db.execute("ALTER TABLE \(table.name) DETACH PARTITION \(drop.name)")
                    // Through the customer index; with no customer on hold there is nothing to count (and no scan).
                    let kept = held.isEmpty ? 0 : try db.query(
                        "SELECT count(*) AS n FROM \(drop.name) WHERE \(table.customerColumn) = ANY (\(held)::bigint[])").single("held").int("n")
                    guard PartitionDrop.worthDropping(total: drop.rows + drop.keptRows, held: kept) else { throw SweepInstead() }
                    try db.execute("ALTER TABLE \(drop.name) SET SCHEMA lethe")
                    try db.execute("ALTER TABLE \(QualifiedName(schema: parked.schema, name: drop.name.name)) RENAME TO \(parked.name)")
                    if kept > 0 {
                        guard let bound = drop.boundClause else { throw SweepInstead() }
                        try rebuild(drop, of: table, from: parked, heldIds: held, bound: bound)
                    }
                    try db.execute("""
                        INSERT INTO lethe.purge_detached (relation, run_id, table_name, partition_name, rows_kept) VALUES (\(.text(parked.description)), \(.int(run)), \(.text(table.table)), \(.text(drop.partition)), \(.int(kept)))
                        """)
                }
            }
        } catch is SweepInstead {
            logger.warning("partition now holds many rows of customers on hold; sweeping it row by row", metadata: ["partition": "\(drop.partition)"])
            return false
        } catch let error as PostgresError where error.isLockTimeout {
            logger.warning("could not lock the table to detach a partition; sweeping it row by row", metadata: ["partition": "\(drop.partition)"])
            return false
        }
        try DetachedPartitions(db: db, run: run, customerColumns: [:], lockTimeoutMilliseconds: settings.lockTimeoutMilliseconds, logger: logger)
            .finish([parked.description])
        return true
    }

    /// Inside the detach transaction: a new table shaped like the parent receives the held rows and is
    /// attached under the old name and bounds, so held rows never leave the table.
    private func rebuild(_ drop: PartitionDrop, of table: TablePlan, from parked: QualifiedName, heldIds: [Int64], bound: String) throws {
        let columns = try db.query("""
            SELECT attname FROM pg_attribute WHERE attrelid = \(.text(table.name.quoted))::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """).rows.map { row -> SQL in "\(try SQLIdentifier(catalog: row.string("attname")))" }.joined(separator: ", ")
        try db.execute("CREATE TABLE \(drop.name) (LIKE \(table.name) INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        try db.execute("INSERT INTO \(drop.name) (\(columns)) SELECT \(columns) FROM \(parked) WHERE \(table.customerColumn) = ANY (\(heldIds)::bigint[])")
        // The bound clause is PostgreSQL's own rendering of the old partition's bounds, read from the catalog.
        try db.execute("ALTER TABLE \(table.name) ATTACH PARTITION \(drop.name) \(unsafeRaw: bound)")
    }

    /// A partition dropped by `lethe.purge_drop_partition`, which checks its bounds and the holds itself. False
    /// (sweep it row-wise) when it holds rows of a customer on hold or the table's lock was not to be had.
    private func dropPartitionGuarded(_ drop: PartitionDrop, of table: TablePlan) throws -> Bool {
        do {
            try withLockRetry("detaching \(drop.partition)") {
                try db.transaction {
                    try db.setLockTimeout(milliseconds: settings.lockTimeoutMilliseconds, local: true)
                    try db.execute("SELECT lethe.purge_drop_partition(\(.text(table.table)), \(.text(drop.name.quoted))::regclass, \(.int(run)))")
                }
            }
            return true
        } catch let error as PostgresError where error.sqlState == "LTH01" {
            logger.warning("partition holds rows of a customer on hold; sweeping it row by row", metadata: ["partition": "\(drop.partition)"])
            return false
        } catch let error as PostgresError where error.isLockTimeout {
            logger.warning("could not lock the table to detach a partition; sweeping it row by row", metadata: ["partition": "\(drop.partition)"])
            return false
        }
    }

    /// The same batches as the owner's sweeps, each one a call of `lethe.purge_delete_rows`, which checks every
    /// cutoff against the rules it recomputes and never deletes a held customer's row.
    private func sweepGuarded(_ sweep: RowSweep, of table: TablePlan) throws -> Int64 {
        let held = Set(plan.holds.map(\.customerId))
        // Per call: p_cutoff, and the customers with their own cutoffs (p_customers, p_cutoffs), or none for every customer.
        var calls: [(SQLValue, [CustomerCutoff]?)] = []
        switch sweep.kind {
        case .tableCutoff:
            if let customer = plan.scope.customer {
                if !held.contains(customer) { calls = [(.text("-infinity"), [CustomerCutoff(customerId: customer, period: "", cutoff: table.tableCutoff)])] }
            } else {
                calls = [(table.tableCutoff.sql, nil)]
            }
        case .customerCutoffs:
            let cutoffs = sweep.customerCutoffs.filter { !held.contains($0.customerId) }
            if sweep.method == .customerIndex {
                calls = cutoffs.map { (table.tableCutoff.sql, [$0]) }
            } else if !cutoffs.isEmpty {
                calls = [(table.tableCutoff.sql, cutoffs)]
            }
        }
        var total: Int64 = 0
        for (cutoff, customers) in calls {
            let ids = customers.map { PurgeSQL.customerIds($0) } ?? .null, times = customers.map { PurgeSQL.cutoffTimes($0) } ?? .null
            func call(from: SQLValue, to: SQLValue, limit: SQLValue) -> SQL {
                """
                SELECT lethe.purge_delete_rows(\(text: table.table), \(text: sweep.leafName.quoted)::regclass, \(run), \(cutoff)::timestamptz,
                                               \(ids)::bigint[], \(times)::timestamptz[], \(from)::tid, \(to)::tid, \(limit)) AS n
                """
            }
            if sweep.method == .customerIndex {
                total += try untilEmpty(sweep) { try db.query(call(from: .null, to: .null, limit: .int(Int64(settings.batchRows)))).single("batch").int("n") }
            } else {
                total += try byBlockRanges(sweep) { from, to in try db.query(call(from: from, to: to, limit: .null)).single("batch").int("n") }
            }
        }
        return total
    }

    /// Rows matching `predicate`, batched by ranges of heap blocks (TID range scans): each batch reads only its blocks,
    /// so the cost stays linear however many dead rows earlier batches left behind.
    private func sweepByBlocks(_ sweep: RowSweep, of table: TablePlan, predicate: SQL) throws -> Int64 {
        try byBlockRanges(sweep) { from, to in
            try db.query("""
                WITH deleted AS (
                    DELETE FROM \(sweep.leafName) WHERE ctid >= \(from)::tid AND ctid < \(to)::tid AND \(predicate)
                    RETURNING \(table.customerColumn) AS customer_id),
                \(Self.ledgerTail(run: run, table: table.table))
                """).single("batch").int("n")
        }
    }

    /// One customer's rows between the table cutoff and its own, in batches found through its index.
    private func sweepByIndex(_ sweep: RowSweep, of table: TablePlan, predicate: SQL) throws -> Int64 {
        try untilEmpty(sweep) {
            try db.query("""
                WITH target AS (SELECT ctid FROM \(sweep.leafName) WHERE \(predicate) LIMIT \(settings.batchRows)),
                deleted AS (
                    DELETE FROM \(sweep.leafName) WHERE ctid = ANY (ARRAY(SELECT ctid FROM target ORDER BY ctid)) AND \(predicate)
                    RETURNING \(table.customerColumn) AS customer_id),
                \(Self.ledgerTail(run: run, table: table.table))
                """).single("batch").int("n")
        }
    }

    /// Runs `batch` (the rows it deleted) over ranges of the leaf's heap blocks, from `from` to `to` (tids), each in
    /// its own short transaction. Each range aims at `batchRows` deletions, scanning further ahead while few match.
    private func byBlockRanges(_ sweep: RowSweep, _ batch: (_ from: SQLValue, _ to: SQLValue) throws -> Int64) throws -> Int64 {
        var total: Int64 = 0
        var block: Int64 = 0
        var step: Int64 = 128
        var pages = try relationPages(sweep.leafName)
        while block < pages {
            let upper = block + step
            let deleted = try inBatchTransaction(sweep) { try batch(.text("(\(block),0)"), .text("(\(upper),0)")) }
            total += deleted
            block = upper
            step = deleted > 0 ? max(16, min(8192, step * Int64(settings.batchRows) / deleted)) : min(8192, step * 2)
            if block >= pages { pages = try relationPages(sweep.leafName) }
        }
        return total
    }

    /// Runs `batch` in its own short transaction until it deletes nothing.
    private func untilEmpty(_ sweep: RowSweep, _ batch: () throws -> Int64) throws -> Int64 {
        var total: Int64 = 0
        while true {
            let deleted = try inBatchTransaction(sweep, batch)
            total += deleted
            if deleted == 0 { return total }
        }
    }

    /// One batch: a stop request is honoured before it, and it is retried when it times out waiting for a lock.
    private func inBatchTransaction(_ sweep: RowSweep, _ batch: () throws -> Int64) throws -> Int64 {
        try settings.stop.check("sweeping \(sweep.leaf)")
        return try withLockRetry("sweeping \(sweep.leaf)") {
            try db.transaction {
                try beginBatch()
                return try batch()
            }
        }
    }

    /// The end of every batch statement: counts the `deleted` CTE's rows per customer and adds them to the
    /// ledger in the same statement (so in the same transaction), under the run and the table.
    static func ledgerTail(run: Int64, table: String) -> SQL {
        """
        counted AS (SELECT customer_id, count(*) AS n FROM deleted GROUP BY customer_id),
        logged AS (
            INSERT INTO lethe.purge_run_items (run_id, table_name, customer_id, rows_deleted)
            SELECT \(run)::bigint, \(text: table), coalesce(customer_id, \(PurgeLedger.noCustomer)), n FROM counted
            ON CONFLICT (run_id, table_name, customer_id, partition_name)
            DO UPDATE SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted)
        SELECT coalesce(sum(n), 0)::bigint AS n FROM counted
        """
    }

    /// Every purge transaction: a short lock_timeout, and holds frozen until commit (a `hold add` waits for this batch).
    /// On the guarded path the function takes that lock itself, as the owner (the worker may not).
    private func beginBatch() throws {
        try db.setLockTimeout(milliseconds: settings.lockTimeoutMilliseconds, local: true)
        if authority == .owner { try db.execute("LOCK TABLE lethe.legal_holds IN SHARE MODE") }
    }

    private func relationPages(_ relation: QualifiedName) throws -> Int64 {
        try db.query("SELECT pg_relation_size(\(.text(relation.quoted))::regclass) / current_setting('block_size')::bigint AS pages")
            .single("pages").int("pages")
    }

    private func withLockRetry<T>(_ what: String, _ body: () throws -> T) throws -> T {
        try LockTimeoutRetry(attempts: settings.attempts, stop: settings.stop, logger: logger).run(what, body)
    }
}
