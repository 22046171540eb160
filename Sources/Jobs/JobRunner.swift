import Dispatch
import Foundation
import LetheCore
import Logging
import Policy
import Postgres

/// Everything around a job, the same for both callers (pgBackRest's cmdBegin/cmdEnd): the job's advisory lock,
/// its `job_runs` row, the run, its result recorded, one final ECS line, and the metrics file rewritten.
public struct JobRunner {
    /// Who runs the job: the worker for a schedule slot (recorded once per slot across workers), or a command.
    public enum Caller: Sendable {
        case worker(slot: Date)
        case command
    }

    /// What to do when another run holds the job's lock.
    public enum WhenBusy: Sendable {
        /// Log and return nil (the worker: the other run is this slot's).
        case skip
        /// Fail with the job's busy error (a one-shot command: exit 75).
        case fail
        /// Queue behind it (`purge --wait`).
        case wait
    }

    /// A run that happened: its output for the caller, its result as recorded, and its `job_runs` id.
    public struct Finished<Output> {
        public let output: Output
        public let result: JobResult
        public let runId: Int64
    }

    let db: PostgresConnection
    let settings: JobSettings
    let caller: Caller
    let stop: StopRequest
    /// The caller's logger, for the lines about skipping.
    let logger: Logger

    public init(db: PostgresConnection, settings: JobSettings, caller: Caller, stop: StopRequest = StopRequest(),
                logger: Logger = Logger(label: "lethe")) {
        self.db = db
        self.settings = settings
        self.caller = caller
        self.stop = stop
        self.logger = logger
    }

    /// Runs `job` once; nil when skipped (only `.skip` skips). A thrown error is recorded and logged, then
    /// rethrown: a shutdown request as `StopRequested` (recorded interrupted), anything else as a failure.
    public func run<J: RecordedJob>(_ job: J, whenBusy: WhenBusy? = nil) throws -> Finished<J.Output>? {
        let name = job.name
        let lock = name.advisoryLock
        switch whenBusy ?? defaultWhenBusy {
        case .wait:
            try db.advisoryLock(lock)
        case .fail:
            guard try db.tryAdvisoryLock(lock) else { throw job.busyError(db) }
        case .skip:
            guard try db.tryAdvisoryLock(lock) else {
                logger.info("skipped: the job is running elsewhere", metadata: slotMetadata(name))
                return nil
            }
        }
        defer { _ = try? db.advisoryUnlock(lock) }
        let runs = JobRuns(db)
        guard let id = try runs.start(name, slot: slot, startedBy: startedBy) else {
            logger.info("skipped: this slot already ran elsewhere", metadata: slotMetadata(name))
            return nil
        }
        defer { writeMetrics() }
        let started = DispatchTime.now().uptimeNanoseconds
        let context = JobContext(db: db, settings: settings, stop: stop, logger: Logger(label: "lethe.\(name.rawValue)"))
        do {
            let output = try job.run(context)
            let result = job.result(of: output)
            let outcome: JobRuns.Outcome = result.succeeded ? .success : .failure
            try runs.finish(id, outcome: outcome, detail: result.detail, counts: result.counts)
            end(name, id, outcome, started: started, ["detail": "\(result.detail)"])
            return Finished(output: output, result: result, runId: id)
        } catch let stopped as StopRequested {
            if db.isAlive { try? runs.finish(id, outcome: .interrupted, detail: stopped.letheError.message) }
            end(name, id, .interrupted, started: started, ["detail": "\(stopped.letheError.message)"])
            throw stopped
        } catch {
            let message = error.asLetheError.message
            if db.isAlive { try? runs.finish(id, outcome: .failure, detail: message) }
            end(name, id, .failure, started: started, ["error.message": "\(message)"])
            throw error
        }
    }

    /// A one-shot command that failed before its run began (a policy that does not load, a key or repository
    /// missing, a privilege check): recorded as a failed run with its final line and the metrics file, so that the
    /// alerts and `lethe status` see it like any failure. Best effort: without the rights to record, nothing is.
    public func recordFailureBeforeRun(_ name: JobName, _ error: any Error) {
        let started = DispatchTime.now().uptimeNanoseconds
        let runs = JobRuns(db)
        guard db.isAlive, let id = try? runs.start(name, slot: nil, startedBy: .command) else { return }
        let message = error.asLetheError.message
        try? runs.finish(id, outcome: .failure, detail: message)
        end(name, id, .failure, started: started, ["error.message": "\(message)"])
        writeMetrics()
    }

    /// For callers that need only how a run ended (the worker, over every kind of job).
    public func result<J: RecordedJob>(of job: J) throws -> JobResult? {
        try run(job)?.result
    }

    private var defaultWhenBusy: WhenBusy {
        if case .worker = caller { return .skip }
        return .fail
    }

    private var slot: Date? {
        if case .worker(let slot) = caller { return slot }
        return nil
    }

    private var startedBy: JobRuns.StartedBy {
        if case .worker = caller { return .worker }
        return .command
    }

    private func slotMetadata(_ name: JobName) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["event.action": "\(name.rawValue)"]
        if let slot { metadata["slot"] = "\(Timestamps.isoFractional(slot))" }
        return metadata
    }

    /// The run's final line, the same from both callers: success at notice (a command shows it with
    /// --log-format json), a failure at error with `error.message`, a stop at warning.
    private func end(_ name: JobName, _ id: Int64, _ outcome: JobRuns.Outcome, started: UInt64, _ extra: Logger.Metadata) {
        var metadata = slotMetadata(name)
        metadata["run_id"] = "\(id)"
        metadata.merge(extra) { _, new in new }
        metadata.merge(JobLine.end(name, outcome: outcome, started: started, db: db)) { _, end in end }
        switch outcome {
        case .success: logger.notice("job finished", metadata: metadata)
        case .interrupted: logger.warning("job stopped by a shutdown request; the next run finishes it", metadata: metadata)
        default: logger.error("job failed", metadata: metadata)
        }
    }

    /// Counters are read back from the database, so every writer of the file (worker, cron, operator) agrees; a
    /// file that cannot be written is a warning, never the job's outcome.
    private func writeMetrics() {
        guard let path = settings.metricsFile, db.isAlive else { return }
        do {
            try MetricsReader(db, repositoryDirectory: settings.repositoryDirectory).write(to: path)
        } catch {
            logger.warning("could not write the metrics file", metadata: ["event.action": "metrics", "error.message": "\(error.asLetheError.message)"])
        }
    }
}
