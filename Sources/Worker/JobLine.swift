import Audit
import Logging
import Postgres

/// The facts every job's final log line carries besides its outcome.
public enum JobLine {
    /// The audit chain's head (`lethe.audit.head_id`, `lethe.audit.head_hash`): copies kept by the log store, out of
    /// reach of the database's writers, for `lethe audit verify --head ID:HASH`. Empty when it cannot be read.
    public static func auditHead(_ db: PostgresConnection) -> Logger.Metadata {
        guard db.isAlive, let head = try? AuditLog.head(db) else { return [:] }
        return ["audit.head_id": "\(head.id)", "audit.head_hash": "\(head.hash)"]
    }
}
