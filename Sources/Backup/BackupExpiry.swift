import Foundation
import Keys
import LetheCore
import Policy

/// `lethe backup expire` and the worker's `backup_expire` job: carries out the repository's expiry plan. Dates
/// come from backup headers, which are trusted only once they authenticate under the keyring.
public struct BackupExpiry {
    let repository: BackupRepository
    let keys: BackupOpeningKeys

    public init(repository: BackupRepository, keys: BackupOpeningKeys) {
        self.repository = repository
        self.keys = keys
    }

    public func run(now: Date, keep: ISODuration, dryRun: Bool) throws -> BackupRepository.ExpiryPlan {
        let verifier = BackupVerifier(repository: repository, keys: keys)
        let plan = try repository.expiryPlan(now: now, keep: keep, keys: keys, newestValid: { (try? verifier.verify($0.id)) != nil })
        if !dryRun { for id in plan.remove { try repository.remove(id) } }
        return plan
    }

    /// The error for a plan that left backups with untrusted headers, to raise once the plan is reported.
    public static func untrustedError(_ plan: BackupRepository.ExpiryPlan) -> LetheError? {
        guard !plan.untrusted.isEmpty else { return nil }
        return .integrity("\(plan.untrusted.count) backup(s) have a header that does not authenticate, so their dates cannot be trusted: \(plan.untrusted.joined(separator: ", "))",
                          hint: "'lethe backup verify ID' tells altered from another keyring's; remove or keep them by hand: expiry leaves them alone")
    }
}
