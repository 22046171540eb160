import Foundation
import LetheCore
import Policy

/// `lethe backup expire`: carries out the repository's expiry plan.
public struct BackupExpiry {
    let repository: BackupRepository

    public init(repository: BackupRepository) { self.repository = repository }

    public func run(now: Date, keep: ISODuration, dryRun: Bool, isValid: (BackupRepository.Entry) -> Bool) throws -> BackupRepository.ExpiryPlan {
        let plan = try repository.expiryPlan(now: now, keep: keep, newestValid: isValid)
        if !dryRun { for id in plan.remove { try repository.remove(id) } }
        return plan
    }
}
