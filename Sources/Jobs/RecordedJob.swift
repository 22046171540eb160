import LetheCore
import Logging
import Policy
import Postgres

/// A scheduled job, defined once for both of its callers (the one-shot command and the worker): its name (the
/// schedule key, the `job_runs` name, the metrics label and the advisory lock), its run, and the line its result
/// is recorded and logged with. `JobRunner` does everything around it.
public protocol RecordedJob {
    /// What the run returns to its caller: a command prints it, the worker keeps only the result line.
    associatedtype Output
    var name: JobName { get }
    func run(_ context: JobContext) throws -> Output
    /// How the run ended, in the line for `job_runs`, the final log line and `lethe status`.
    func result(of output: Output) -> JobResult
    /// The error a one-shot command gets when another run holds the job's lock (a default names the job).
    func busyError(_ db: PostgresConnection) -> LetheError
}

/// What a job runs with: one connection, the settings, a stop request (SIGTERM), and the job's logger.
public struct JobContext {
    public let db: PostgresConnection
    public let settings: JobSettings
    public let stop: StopRequest
    public let logger: Logger

    public init(db: PostgresConnection, settings: JobSettings, stop: StopRequest = StopRequest(), logger: Logger) {
        self.db = db
        self.settings = settings
        self.stop = stop
        self.logger = logger
    }

    public func policy() throws -> RetentionPolicy { try settings.requiredPolicy() }
}

/// How a job run ended, in a line for the job-run table, the logs and `lethe status`.
public struct JobResult: Sendable {
    public let succeeded: Bool
    public let detail: String
    /// Numbers by name the metrics file reads back (inspect: findings by kind).
    public let counts: [String: Int64]?

    public init(succeeded: Bool = true, detail: String, counts: [String: Int64]? = nil) {
        self.succeeded = succeeded
        self.detail = detail
        self.counts = counts
    }
}

extension JobName {
    /// The advisory lock every caller of the job takes, so it never runs twice at once on a database.
    public var advisoryLock: AdvisoryLockKey {
        switch self {
        case .partitions: .partitions
        case .purge: .purge
        case .backup: .backup
        case .backupExpire: .backupExpire
        case .requestsCheck: .requestsCheck
        case .inspect: .inspect
        case .encrypt: .encryptMigrate
        }
    }

    /// The job as a person types it: `backup expire`, `requests check`.
    public var commandName: String {
        switch self {
        case .partitions: "partitions ensure"
        case .backupExpire: "backup expire"
        case .requestsCheck: "requests check"
        default: rawValue
        }
    }
}

extension RecordedJob {
    /// The error a one-shot command gets when another run holds the job's lock.
    public func busyError(_ db: PostgresConnection) -> LetheError {
        LetheError(.tempFail, "another lethe \(name.commandName) is running on this database", hint: "wait for it to finish, then rerun")
    }
}
