import Audit
import Dispatch
import Logging
import Policy
import Postgres

/// The ECS fields of a job's final log line, whoever ran it (the worker or a one-shot command).
public enum JobLine {
    /// What ran (`event.action`), how it ended (`event.outcome`: success, failure, or unknown when stopped by a
    /// shutdown), how long it took (`event.duration`, nanoseconds since `started`), and the audit chain's head.
    public static func end(_ job: JobName, outcome: JobRuns.Outcome, started: UInt64, db: PostgresConnection) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "event.action": "\(job.rawValue)",
            "event.outcome": "\(outcome == .success ? "success" : outcome == .interrupted ? "unknown" : "failure")",
            "event.duration": .stringConvertible(DispatchTime.now().uptimeNanoseconds - started),
        ]
        metadata.merge(auditHead(db)) { _, head in head }
        return metadata
    }

    /// The audit chain's head (`lethe.audit.head_id`, `lethe.audit.head_hash`): copies kept by the log store, out of
    /// reach of the database's writers, for `lethe audit verify --head ID:HASH`. Empty when it cannot be read.
    public static func auditHead(_ db: PostgresConnection) -> Logger.Metadata {
        guard db.isAlive, let head = try? AuditLog.head(db) else { return [:] }
        return ["audit.head_id": .stringConvertible(head.id), "audit.head_hash": "\(head.hash)"]
    }
}
