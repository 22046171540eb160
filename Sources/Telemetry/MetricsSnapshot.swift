import Foundation

/// Everything the metrics file says, read from the database (so counters survive restarts and tell the truth
/// whoever ran the job: the worker or a cron-run command). Labels are job and table names, never ids of people.
public struct MetricsSnapshot: Sendable {
    public struct Job: Sendable {
        public let job: String
        public let lastRun: Date?
        public let lastSuccess: Date?
        /// Duration of the last finished run, in seconds.
        public let lastDuration: Double?
        public let failures: Int64
        /// Whether the latest finished run failed: an alert sees it on the first scrape, where a counter's
        /// increase needs two.
        public let lastRunFailed: Bool

        public init(job: String, lastRun: Date?, lastSuccess: Date?, lastDuration: Double?, failures: Int64, lastRunFailed: Bool = false) {
            self.job = job
            self.lastRun = lastRun
            self.lastSuccess = lastSuccess
            self.lastDuration = lastDuration
            self.failures = failures
            self.lastRunFailed = lastRunFailed
        }
    }

    public var jobs: [Job] = []
    /// Policy table -> rows deleted by every purge run so far.
    public var purgeRowsDeleted: [String: Int64] = [:]
    /// Policy table -> partitions dropped by every purge run so far.
    public var purgePartitionsDropped: [String: Int64] = [:]
    /// Size of the newest backup in the repository, when one is configured.
    public var backupSizeBytes: Int64?
    public var requestsOverdue: Int64 = 0
    /// Ledger records re-applied to the database (after a physical restore, or a run that crashed before its commit).
    public var reconciledRecords: Int64 = 0
    /// Findings of the latest inspection, by kind (absent before the first one).
    public var inspectFindings: [String: Int64]?

    public init() {}
}
