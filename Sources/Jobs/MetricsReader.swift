import Backup
import Foundation
import LetheCore
import Policy
import Postgres
import Subject
import Telemetry

/// Reads the metrics snapshot from the database: job runs, the purge ledger, the request register, and the
/// newest backup of the repository. Counters come from the ledgers, so they survive restarts.
public struct MetricsReader {
    let db: PostgresConnection
    let repositoryDirectory: String?

    public init(_ db: PostgresConnection, repositoryDirectory: String?) {
        self.db = db
        self.repositoryDirectory = repositoryDirectory
    }

    /// Rewrites the metrics file from the database.
    public func write(to path: String) throws {
        try MetricsTextfile.write(try snapshot(), to: path)
    }

    public func snapshot() throws -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        var durations: [String: Double] = [:], lastFailed = Set<String>()
        for row in try db.query("""
            SELECT DISTINCT ON (job) job, extract(epoch FROM finished_at - started_at)::float8::text AS seconds, outcome = 'failure' AS failed
            FROM lethe.job_runs WHERE finished_at IS NOT NULL ORDER BY job, finished_at DESC
            """).rows {
            let job = try row.string("job")
            durations[job] = Double(try row.string("seconds"))
            if try row.bool("failed") { lastFailed.insert(job) }
        }
        let rows = try db.query("""
            SELECT job, max(started_at) AS last_run, max(finished_at) FILTER (WHERE outcome = 'success') AS last_success,
                   count(*) FILTER (WHERE outcome = 'failure') AS failures
            FROM lethe.job_runs GROUP BY job
            """).rows
        var seen = Set<String>()
        for row in rows {
            let job = try row.string("job")
            seen.insert(job)
            snapshot.jobs.append(.init(job: job, lastRun: try row.optionalDate("last_run"), lastSuccess: try row.optionalDate("last_success"),
                                       lastDuration: durations[job], failures: try row.int("failures"),
                                       lastRunFailed: lastFailed.contains(job)))
        }
        // Every job has its failure counter from the start, so rate() and alerts see a series before the first failure.
        for job in JobName.allCases where !seen.contains(job.rawValue) {
            snapshot.jobs.append(.init(job: job.rawValue, lastRun: nil, lastSuccess: nil, lastDuration: nil, failures: 0))
        }
        snapshot.jobs.sort { $0.job < $1.job }
        for row in try db.query("""
            SELECT table_name, sum(rows_deleted)::bigint AS rows, sum(partitions_dropped)::bigint AS partitions
            FROM lethe.purge_run_items GROUP BY table_name
            """).rows {
            let table = try row.string("table_name")
            snapshot.purgeRowsDeleted[table] = try row.int("rows")
            snapshot.purgePartitionsDropped[table] = try row.int("partitions")
        }
        snapshot.requestsOverdue = Int64(try RequestRegister(db).overdue().count)
        // The audit log keeps one record per re-applied ledger record: a counter that survives restarts.
        snapshot.reconciledRecords = try db.query("SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'reconcile'").single("reconciled").int("n")
        if let counts = try db.query("""
            SELECT counts::text AS counts FROM lethe.job_runs WHERE job = 'inspect' AND counts IS NOT NULL ORDER BY id DESC LIMIT 1
            """).first?.string("counts"), let data = counts.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            snapshot.inspectFindings = object.compactMapValues { ($0 as? NSNumber)?.int64Value }
        }
        if let repositoryDirectory, let repository = try? BackupRepository(directory: repositoryDirectory),
           let newest = try? repository.list().max(by: { $0.createdAt < $1.createdAt }) {
            snapshot.backupSizeBytes = Int64(newest.size)
        }
        return snapshot
    }
}
