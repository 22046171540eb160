import Backup
import Foundation
import LetheCore
import Policy

/// `backup_expire`: removes backups older than the policy's `backup.keep`, trusting a date only once its header
/// authenticates; a backup it cannot authenticate is left and makes the run a failure.
public struct BackupExpireJob: RecordedJob {
    public init() {}

    public var name: JobName { .backupExpire }

    public func run(_ context: JobContext) throws -> BackupRepository.ExpiryPlan {
        try Self.expire(context.settings, dryRun: false)
    }

    public func result(of plan: BackupRepository.ExpiryPlan) -> JobResult {
        JobResult(succeeded: plan.untrusted.isEmpty,
                  detail: "\(plan.remove.count) backup(s) removed, \(plan.keep.count) kept, \(plan.untrusted.count) untrusted")
    }

    /// The expiry itself, also for a dry run or a run without a reachable database (neither is recorded).
    public static func expire(_ settings: JobSettings, dryRun: Bool) throws -> BackupRepository.ExpiryPlan {
        let expiry = BackupExpiry(repository: try settings.repository(for: .backupExpire), keys: try settings.backupOpeningKeys(for: .backupExpire))
        return try expiry.run(now: Date(), keep: try settings.requiredPolicy().backup.keep, dryRun: dryRun)
    }
}
