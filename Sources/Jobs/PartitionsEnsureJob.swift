import Postgres
import Foundation
import LetheCore
import Policy
import Schema

/// `partitions`: creates the partitions the policy's layout needs from today (or `from`) to `ahead`.
public struct PartitionsEnsureJob: RecordedJob {
    public var from: Date?
    public var ahead: ISODuration?

    public init(from: Date? = nil, ahead: ISODuration? = nil) {
        self.from = from
        self.ahead = ahead
    }

    public var name: JobName { .partitions }

    public func run(_ context: JobContext) throws -> PartitionCatalog.EnsureReport {
        try PartitionCatalog().ensure(context.db, policy: try context.policy(), now: try DatabaseClock.now(context.db), from: from, ahead: ahead)
    }

    public func result(of report: PartitionCatalog.EnsureReport) -> JobResult {
        JobResult(succeeded: report.conflicts.isEmpty,
                  detail: "\(report.created.count) partition(s) created, \(report.alreadyPresent) interval(s) already covered"
                      + (report.conflicts.isEmpty ? "" : ", \(report.conflicts.count) could not be created (first: \(report.conflicts[0]))"))
    }
}
