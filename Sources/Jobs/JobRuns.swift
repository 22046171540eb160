import Foundation
import LetheCore
import Policy
import Postgres

/// `lethe.job_runs`: one row per run of a scheduled job, written by the worker and by the one-shot commands.
public struct JobRuns {
    let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    public enum StartedBy: String, Sendable { case worker, command }

    public enum Outcome: String, Sendable, Codable { case running, success, failure, interrupted }

    /// Records the start of a run. For a worker's slot, returns nil when that slot already has a run (another
    /// worker of the same database took it). Rows left 'running' by a process whose connection is gone are
    /// closed as interrupted first.
    public func start(_ job: JobName, slot: Date?, startedBy: StartedBy) throws -> Int64? {
        try db.execute("""
            UPDATE lethe.job_runs SET outcome = 'interrupted', finished_at = clock_timestamp(),
                   detail = 'no end recorded: the process was killed or lost its connection'
            WHERE job = \(.text(job.rawValue)) AND outcome = 'running' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = backend_pid)
            """)
        let insert: SQL = """
            INSERT INTO lethe.job_runs (job, scheduled_for, started_by, host, os_pid) VALUES (\(.text(job.rawValue)), \(slot.map { .timestamp($0) } ?? .null)::timestamptz, \(.text(startedBy.rawValue)), \(.text(ProcessInfo.processInfo.hostName)), \(.int(Int64(getpid()))))
            ON CONFLICT (job, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING RETURNING id
            """
        do {
            return try db.query(insert).first?.int("id")
        } catch let error as PostgresError where error.sqlState == "23505" && error.constraint == "job_runs_pkey" {
            // The id sequence is behind the table (issue 30, defect 10: seen after a crash of the server under a
            // run): move it past the highest id and record the run; the next runs need nothing more.
            try db.execute("SELECT setval(pg_get_serial_sequence('lethe.job_runs', 'id'), (SELECT max(id) FROM lethe.job_runs))")
            return try db.query(insert).first?.int("id")
        }
    }

    public func finish(_ id: Int64, outcome: Outcome, detail: String, counts: [String: Int64]? = nil) throws {
        let json = counts.map { "{" + $0.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}" }
        try db.execute("UPDATE lethe.job_runs SET outcome = \(.text(outcome.rawValue)), finished_at = clock_timestamp(), detail = \(.text(String(detail.prefix(500)))), counts = \(json.sqlValue)::jsonb WHERE id = \(.int(id))")
    }

    public struct LastRun: Sendable, Encodable {
        public let startedAt: Date
        public let finishedAt: Date?
        public let outcome: Outcome
        public let detail: String?
        public var durationSeconds: Double? { finishedAt.map { $0.timeIntervalSince(startedAt) } }
    }

    /// The latest run of `job`, whoever started it.
    public func last(_ job: JobName) throws -> LastRun? {
        try db.query("""
            SELECT started_at, finished_at, outcome, detail FROM lethe.job_runs WHERE job = \(.text(job.rawValue)) ORDER BY started_at DESC, id DESC LIMIT 1
            """).first.map(Self.lastRun)
    }

    /// The latest successful run of `job`.
    public func lastSuccess(_ job: JobName) throws -> LastRun? {
        try db.query("""
            SELECT started_at, finished_at, outcome, detail FROM lethe.job_runs WHERE job = \(.text(job.rawValue)) AND outcome = 'success'
            ORDER BY finished_at DESC, id DESC LIMIT 1
            """).first.map(Self.lastRun)
    }

    public func failures(_ job: JobName) throws -> Int64 {
        try db.query("SELECT count(*) AS n FROM lethe.job_runs WHERE job = \(.text(job.rawValue)) AND outcome = 'failure'").single("failures").int("n")
    }

    private static func lastRun(_ row: Row) throws -> LastRun {
        LastRun(startedAt: try row.date("started_at"), finishedAt: try row.optionalDate("finished_at"),
                outcome: Outcome(rawValue: try row.string("outcome")) ?? .failure, detail: try row.optionalString("detail"))
    }
}
