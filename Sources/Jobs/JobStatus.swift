import Foundation
import LetheCore
import Policy
import Postgres

/// `lethe status`: per job, its last run, last success and next slot, and whether it needs attention.
public struct JobStatus: Sendable, Encodable {
    public let job: String
    public let schedule: String
    public let lastRun: JobRuns.LastRun?
    public let lastSuccessAt: Date?
    public let nextDue: Date?
    public let overdue: Bool
    public let lastRunFailed: Bool

    public var healthy: Bool { !overdue && !lastRunFailed }

    /// A job is overdue when it has not succeeded within its period plus a grace (a twelfth of the period, at
    /// least a minute: two hours for a daily job). A job that never ran is not overdue while the database was
    /// migrated less than one period ago.
    public static func all(_ db: PostgresConnection, policy: RetentionPolicy) throws -> [JobStatus] {
        let now = try DatabaseClock.now(db)
        let migrated = try db.query("SELECT min(applied_at) AS at FROM lethe.schema_migrations").single("migrated").optionalDate("at") ?? now
        let runs = JobRuns(db)
        return try JobName.allCases.compactMap { job in
            guard let schedule = policy.schedule[job], !schedule.isOff else { return nil }
            let last = try runs.last(job)
            let success = try runs.lastSuccess(job)?.finishedAt
            let reference = success ?? migrated
            let overdue = now.timeIntervalSince(reference) > schedule.allowedLateness(at: now)
            let failed = last.map { $0.outcome == .failure } ?? false
            return JobStatus(job: job.rawValue, schedule: schedule.description, lastRun: last, lastSuccessAt: success,
                             nextDue: schedule.next(after: now), overdue: overdue, lastRunFailed: failed)
        }
    }
}
