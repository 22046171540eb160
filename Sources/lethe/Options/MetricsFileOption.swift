import ArgumentParser
import Jobs
import LetheCore
import Logging
import Policy
import Postgres

/// `--metrics-file PATH`: after the job, the Prometheus metrics file for node_exporter's textfile collector,
/// the same file the worker writes (counters read from the database, so every writer agrees).
struct MetricsFileOption: ParsableArguments {
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Write Prometheus metrics to PATH after the job (node_exporter textfile collector).", valueName: "path"))
    var path: String?
}

/// A one-shot command's run of a scheduled job: through the same runner as the worker's (lock, `job_runs` row,
/// final ECS line with the audit chain's head, metrics file), so `lethe status` and the alerts see cron-run jobs.
enum OneShotJob {
    /// Set once the runner took the job in hand: from then on it records every outcome itself.
    nonisolated(unsafe) private static var runnerStarted = false

    /// Runs a job command's whole body; a failure before the runner took the job (the policy, a key, the
    /// repository, the duty check) is recorded too, when the database is reachable. Not for dry runs, and not
    /// for a run refused because another holds the lock (exit 75 is not a failure of the job).
    static func guarding(_ name: JobName, database: DatabaseOptions, metricsFile: String?, recording: Bool = true,
                         _ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            let code = error.asLetheError.code
            if recording, !runnerStarted, code != .tempFail, code != .unavailable, let db = try? database.connect() {
                let settings = JobSettings(conninfo: database.conninfo, policy: nil, metricsFile: metricsFile)
                JobRunner(db: db, settings: settings, caller: .command, logger: Logger(label: "lethe.\(name.rawValue)"))
                    .recordFailureBeforeRun(name, error)
            }
            throw error
        }
    }

    static func run<J: RecordedJob>(_ job: J, db: PostgresConnection, settings: JobSettings,
                                    whenBusy: JobRunner.WhenBusy = .fail) throws -> J.Output {
        let runner = JobRunner(db: db, settings: settings, caller: .command, logger: Logger(label: "lethe.\(job.name.rawValue)"))
        runnerStarted = true
        // A command's run is never skipped: it has no slot, and a held lock fails or waits.
        guard let finished = try runner.run(job, whenBusy: whenBusy) else {
            throw LetheError.software("the \(job.name.rawValue) run was skipped without a slot", hint: "report this as a bug")
        }
        return finished.output
    }
}
