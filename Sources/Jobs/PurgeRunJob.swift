import LetheCore
import Policy
import Postgres
import Purge

/// `purge`: removes what is past its customer's cutoff, then checks that nothing past it remains.
public struct PurgeRunJob: RecordedJob {
    public var scope: PurgeScope
    public var settings: PurgeSettings
    public var progress: ((String) -> Void)?

    public init(scope: PurgeScope = PurgeScope(), settings: PurgeSettings = PurgeSettings(), progress: ((String) -> Void)? = nil) {
        self.scope = scope
        self.settings = settings
        self.progress = progress
    }

    public var name: JobName { .purge }

    public func run(_ context: JobContext) throws -> PurgeReport {
        var settings = self.settings
        settings.stop = context.stop
        // The runner holds the purge lock already (session locks nest), so the job's own try never waits.
        return try PurgeJob(context.db, policy: try context.policy(), settings: settings, logger: context.logger)
            .run(scope: scope, wait: false, progress: progress)
    }

    public func result(of report: PurgeReport) -> JobResult {
        let rows = report.tables.reduce(Int64(0)) { $0 + $1.totalRows }
        let partitions = report.tables.reduce(0) { $0 + $1.partitionsDropped.count }
        return JobResult(succeeded: report.checkPassed,
                         detail: "purge run \(report.runId ?? 0): \(report.status), \(rows) rows, \(partitions) partitions removed"
                             + (report.checkPassed ? "" : "; rows past their cutoff remain"))
    }

    /// Names the run that holds the lock, so the operator can find it in `lethe.purge_runs`.
    public func busyError(_ db: PostgresConnection) -> LetheError {
        let running = try? db.query("SELECT id, started_at::text AS started FROM lethe.purge_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1").first
        let detail = (try? running.map { " (run \(try $0.int("id")), started \(try $0.string("started")))" }) ?? nil
        return LetheError(.tempFail, "another lethe purge is running on this database\(detail ?? "")",
                          hint: "let it finish, or rerun with --wait to queue behind it")
    }
}
