import Foundation
import LetheCore
import Prometheus

/// The metrics file for node_exporter's textfile collector, in Prometheus text format, built with
/// swift-prometheus and replaced atomically (a temporary file renamed over it), so the collector never
/// reads half a file.
public enum MetricsTextfile {
    public static func render(_ snapshot: MetricsSnapshot) -> String {
        let registry = PrometheusCollectorRegistry()
        for job in snapshot.jobs {
            let labels = [("job", job.job)]
            if let lastRun = job.lastRun {
                registry.makeGauge(name: "lethe_job_last_run_timestamp_seconds", labels: labels,
                                   help: "Start of the job's last run, in seconds since the epoch.").set(lastRun.timeIntervalSince1970)
            }
            if let lastSuccess = job.lastSuccess {
                registry.makeGauge(name: "lethe_job_last_success_timestamp_seconds", labels: labels,
                                   help: "End of the job's last successful run, in seconds since the epoch.").set(lastSuccess.timeIntervalSince1970)
            }
            if let duration = job.lastDuration {
                registry.makeGauge(name: "lethe_job_duration_seconds", labels: labels,
                                   help: "Duration of the job's last finished run.").set(duration)
            }
            registry.makeCounter(name: "lethe_job_failures_total", labels: labels, help: "Runs of the job that failed.").increment(by: job.failures)
        }
        for (table, rows) in snapshot.purgeRowsDeleted.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(name: "lethe_purge_rows_deleted_total", labels: [("table", table)],
                                 help: "Rows removed by purges (partition drops and row-wise deletes).").increment(by: rows)
        }
        for (table, partitions) in snapshot.purgePartitionsDropped.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(name: "lethe_purge_partitions_dropped_total", labels: [("table", table)],
                                 help: "Partitions dropped whole by purges.").increment(by: partitions)
        }
        if let size = snapshot.backupSizeBytes {
            registry.makeGauge(name: "lethe_backup_size_bytes", help: "Size of the newest backup file.").set(Double(size))
        }
        registry.makeGauge(name: "lethe_requests_overdue", help: "Open data-subject requests past their due date.").set(Double(snapshot.requestsOverdue))
        for (kind, count) in (snapshot.inspectFindings ?? [:]).sorted(by: { $0.key < $1.key }) {
            registry.makeGauge(name: "lethe_inspect_findings", labels: [("kind", kind)],
                               help: "Findings of the latest 'lethe inspect', by kind.").set(Double(count))
        }
        return registry.emitToString()
    }

    /// Writes `snapshot` to `path` (mode 0644: metrics hold no personal value, and node_exporter reads them).
    public static func write(_ snapshot: MetricsSnapshot, to path: String) throws {
        let text = render(snapshot)
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw LetheError(.cannotCreate, "cannot write the metrics file \(path)", hint: "check that \(directory.isEmpty ? "." : directory) exists and is writable")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw LetheError(.cannotCreate, "cannot replace the metrics file \(path): \(reason)", hint: "check the directory's permissions")
        }
    }
}
