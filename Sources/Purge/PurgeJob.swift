import Audit
import Foundation
import LetheCore
import Logging
import Policy
import Postgres
import Schema

/// `lethe purge`: one run under the purge advisory lock. Plans from the database clock, ensures the coming
/// months' partitions, executes, checks, and records the run in the ledger and the audit log.
public struct PurgeJob {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let settings: PurgeSettings
    let logger: Logger

    public init(_ db: PostgresConnection, policy: RetentionPolicy, settings: PurgeSettings = PurgeSettings(), logger: Logger = Logger(label: "lethe.purge")) {
        self.db = db
        self.policy = policy
        self.settings = settings
        self.logger = logger
    }

    public func plan(scope: PurgeScope, counting: Bool = true) throws -> PurgePlan {
        try PurgePlanner(db, policy: policy).plan(scope: scope, counting: counting)
    }

    /// An erased person's tombstone keeps their fingerprint (blind index, keyed HMAC of the number) only while a
    /// backup older than the erasure can be restored: backups never outlive the six-month ceiling, so past it and a
    /// week the fingerprint goes, keeping the row ids and the receipt (all a later replay needs).
    /// Computed by the database from its own clock (`lethe.expire_tombstone_fingerprints`), so the role that purges
    /// needs no write privilege on the tombstones.
    func expireTombstoneFingerprints() throws -> Int {
        let expired = try db.query("SELECT lethe.expire_tombstone_fingerprints() AS n").single("expire").int("n")
        if expired > 0 { logger.info("tombstone fingerprints expired", metadata: ["count": .stringConvertible(expired)]) }
        return Int(expired)
    }

    /// Rows past their customer's cutoff outside legal holds right now (what a run's final check counts), without
    /// purging anything: for `lethe inspect`.
    /// Rows past their customer's cutoff by more than `slack` seconds, outside holds: what a purge running on
    /// schedule would already have removed.
    public func overdueRows(slack: TimeInterval = 0) throws -> [CheckFinding] {
        try RetentionCheck(db: db).findings(try plan(scope: PurgeScope(), counting: false), slack: Int64(slack.rounded(.up)))
    }

    public func dryRun(scope: PurgeScope) throws -> PurgeReport {
        PurgeReport.dryRun(try plan(scope: scope))
    }

    public func run(scope: PurgeScope, wait: Bool, progress: ((String) -> Void)? = nil) throws -> PurgeReport {
        if wait {
            try db.advisoryLock(.purge)
        } else if try !db.tryAdvisoryLock(.purge) {
            let running = try db.query("SELECT id, started_at::text AS started FROM lethe.purge_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1").first
            let detail = try running.map { " (run \(try $0.int("id")), started \(try $0.string("started")))" } ?? ""
            throw LetheError(.tempFail, "another lethe purge is running on this database\(detail)",
                             hint: "let it finish, or rerun with --wait to queue behind it")
        }
        defer { _ = try? db.advisoryUnlock(.purge) }
        let ledger = PurgeLedger(db: db)
        let interrupted = try ledger.markInterrupted()
        if !interrupted.isEmpty {
            logger.warning("earlier purge runs were interrupted; this run finishes their work", metadata: ["runs": .stringConvertible(interrupted)])
        }
        let authority = try TableAuthority.of(db, tables: policy.retentionTables.map(\.name))
        if authority == .guarded { try PurgeRules(db: db).checkMatches(policy) }
        let plan = try self.plan(scope: scope, counting: false)
        // What the planner could not do as usual is said on every run, not only in a dry run's report.
        for table in plan.tables {
            for warning in table.warnings { logger.warning("\(warning)", metadata: ["table": "\(table.table)"]) }
        }
        let ensured = try PartitionCatalog().ensure(db, policy: policy, now: plan.now.date)
        for conflict in ensured.conflicts { logger.warning("could not create a partition", metadata: ["detail": "\(conflict)"]) }
        let run = try ledger.start(plan)
        logger.info("purge started", metadata: ["run": .stringConvertible(run), "ceiling_cutoff": "\(plan.ceilingCutoff.text)"])
        do {
            let customerColumns = Dictionary(policy.retentionTables.compactMap { table in CustomerKey.sql(table).map { (table.name.description, $0) } },
                                             uniquingKeysWith: { first, _ in first })
            if authority == .owner {
                // Another session's pending detaches wholly past the cutoff become this run's, noted with their bounds
                // and holds unchecked: finishing them below re-attaches any that hold rows of a customer on hold.
                for table in plan.tables {
                    for partition in table.pendingToFinish {
                        try db.execute("""
                            INSERT INTO lethe.purge_detached (relation, run_id, table_name, partition_name, bound, holds_checked)
                            VALUES (\(text: partition.name.description), \(run), \(text: table.table), \(text: partition.name.description),
                                    \(text: partition.boundClause), false) ON CONFLICT (relation) DO NOTHING
                            """)
                        logger.warning("finishing a detach another session left pending", metadata: ["partition": "\(partition.name)"])
                    }
                }
                let leftovers = try DetachedPartitions(db: db, run: run, customerColumns: customerColumns,
                                                       lockTimeoutMilliseconds: settings.lockTimeoutMilliseconds, logger: logger).finishLeftovers()
                if leftovers > 0 { logger.warning("dropped partitions an interrupted run had detached", metadata: ["count": .stringConvertible(leftovers)]) }
            } else if let pending = try db.query("SELECT count(*) AS n FROM lethe.purge_detached").first?.int("n"), pending > 0 {
                // Only the owner can finish a detach or drop a parked table; the rows there are already out of reach.
                logger.warning("an interrupted purge run by the tables' owner left detached partitions; run 'lethe purge' as the owner to finish them",
                               metadata: ["count": .stringConvertible(pending)])
            }
            try PurgeExecutor(db: db, plan: plan, run: run, settings: settings, logger: logger, progress: progress, authority: authority).execute()
            let expired = plan.scope == PurgeScope() ? try expireTombstoneFingerprints() : 0
            let findings = try RetentionCheck(db: db).findings(plan)
            let status = findings.isEmpty ? "completed" : "check_failed"
            try ledger.finish(run: run, status: status, check: findings, error: nil)
            let report = try PurgeReport.completed(plan, run: run, status: status, items: try ledger.items(run: run),
                                                   interrupted: interrupted, check: findings)
            try AuditLog.append(db, action: "purge", target: "purge run \(run)", details: [
                "status": .string(status),
                "rows_deleted": .int(report.tables.reduce(0) { $0 + $1.totalRows }),
                "partitions_dropped": .int(Int64(report.tables.reduce(0) { $0 + $1.partitionsDropped.count })),
                "policy_hash": .string(plan.policyHash),
                "tombstone_fingerprints_expired": .int(Int64(expired)),
            ])
            for finding in findings {
                logger.error("rows past their cutoff remain", metadata: ["table": "\(finding.table)", "customer": "\(finding.customerId.map(String.init) ?? "none")", "rows": .stringConvertible(finding.rows)])
            }
            return report
        } catch let stop as StopRequested {
            // A clean stop at a safe point: everything done so far is in the ledger; the next run finishes the rest.
            if db.isAlive {
                try? ledger.finish(run: run, status: "interrupted", check: nil, error: stop.letheError.message)
                _ = try? AuditLog.append(db, action: "purge.interrupted", target: "purge run \(run)", details: ["reason": .string("shutdown request")])
            }
            throw stop
        } catch {
            let message = error.asLetheError.message
            if db.isAlive {
                try? ledger.finish(run: run, status: "failed", check: nil, error: message)
                _ = try? AuditLog.append(db, action: "purge.failed", target: "purge run \(run)", details: ["error": .string(message)])
            }
            throw error
        }
    }
}
