import Foundation
import LetheCore
import Prometheus

/// The metrics file for node_exporter's textfile collector, in Prometheus text format, built with
/// swift-prometheus and replaced atomically (a temporary file renamed over it), so the collector never
/// reads half a file.
public enum MetricsTextfile {
    public static func render(_ snapshot: MetricsSnapshot) -> String {
        let registry = PrometheusCollectorRegistry()
        /// `lethe_<subsystem>_<name>_<unit>`, the base-unit naming Prometheus dashboards expect.
        func named(_ subsystem: String?, _ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "lethe", subsystem: subsystem, metricName: name, unitName: unit, helpText: help)
        }
        for job in snapshot.jobs {
            // `jobname`, as pg_cron names it: Prometheus reserves `job` for the scrape target and renames a `job` label
            // in a scraped series to `exported_job`.
            let labels = [("jobname", job.job)]
            if let lastRun = job.lastRun {
                registry.makeGauge(descriptor: named("job", "last_run_timestamp", "seconds", "Start of the job's last run, in seconds since the epoch."),
                                   labels: labels).set(lastRun.timeIntervalSince1970)
            }
            if let lastSuccess = job.lastSuccess {
                registry.makeGauge(descriptor: named("job", "last_success_timestamp", "seconds", "End of the job's last successful run, in seconds since the epoch."),
                                   labels: labels).set(lastSuccess.timeIntervalSince1970)
            }
            if let duration = job.lastDuration {
                registry.makeGauge(descriptor: named("job", "duration", "seconds", "Duration of the job's last finished run."), labels: labels).set(duration)
            }
            registry.makeCounter(descriptor: named("job", "failures", "total", "Runs of the job that failed."), labels: labels).increment(by: job.failures)
            registry.makeGauge(descriptor: named("job", "last_run_failed", "", "1 if the job's latest finished run failed, 0 otherwise."),
                               labels: labels).set(Double(job.lastRunFailed ? 1 : 0))
        }
        for (table, rows) in snapshot.purgeRowsDeleted.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(descriptor: named("purge", "rows_deleted", "total", "Rows removed by purges (partition drops and row-wise deletes)."),
                                 labels: [("table", table)]).increment(by: rows)
        }
        for (table, partitions) in snapshot.purgePartitionsDropped.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(descriptor: named("purge", "partitions_dropped", "total", "Partitions dropped whole by purges."),
                                 labels: [("table", table)]).increment(by: partitions)
        }
        if let size = snapshot.backupSizeBytes {
            registry.makeGauge(descriptor: named("backup", "size", "bytes", "Size of the newest backup file.")).set(Double(size))
        }
        registry.makeGauge(descriptor: named(nil, "requests_overdue", "", "Open data-subject requests past their due date."))
            .set(Double(snapshot.requestsOverdue))
        registry.makeCounter(descriptor: named("reconcile", "records", "total",
                                               "Ledger records re-applied to a database that lacked them (a physical or point-in-time restore, a crash before a commit)."))
            .increment(by: snapshot.reconciledRecords)
        for (kind, count) in (snapshot.inspectFindings ?? [:]).sorted(by: { $0.key < $1.key }) {
            registry.makeGauge(descriptor: named("inspect", "findings", "", "Findings of the latest 'lethe inspect', by kind."),
                               labels: [("kind", kind)]).set(Double(count))
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
