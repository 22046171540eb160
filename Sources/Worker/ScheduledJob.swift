import Backup
import Inspect
import Foundation
import Keys
import LetheCore
import Logging
import Policy
import Postgres
import Purge
import Schema
import Subject

/// Runs one job as its one-shot command would, and says in a line how it went. The worker adds scheduling,
/// recording and signals around these; it never reimplements a job.
struct ScheduledJob {
    let job: JobName
    let configuration: WorkerConfiguration
    let stop: StopRequest
    let logger: Logger

    func run(_ db: PostgresConnection) throws -> JobResult {
        let policy = configuration.policy
        switch job {
        case .partitions:
            let report = try PartitionCatalog().ensure(db, policy: policy, now: try DatabaseClock.now(db))
            guard report.conflicts.isEmpty else {
                throw LetheError.config("\(report.conflicts.count) partition(s) could not be created: \(report.conflicts[0])",
                                        hint: "run 'lethe partitions ensure' to see every conflict")
            }
            return JobResult(detail: "\(report.created.count) partition(s) created, \(report.alreadyPresent) interval(s) already covered")
        case .purge:
            var settings = PurgeSettings()
            settings.stop = stop
            let report = try PurgeJob(db, policy: policy, settings: settings, logger: logger).run(scope: PurgeScope(), wait: false)
            let rows = report.tables.reduce(Int64(0)) { $0 + $1.totalRows }
            let partitions = report.tables.reduce(0) { $0 + $1.partitionsDropped.count }
            return JobResult(succeeded: report.checkPassed,
                             detail: "purge run \(report.runId ?? 0): \(report.status), \(rows) rows, \(partitions) partitions removed"
                                 + (report.checkPassed ? "" : "; rows past their cutoff remain"))
        case .backup:
            let sealing: BackupSealing = configuration.backupRecipientPaths.isEmpty
                ? .keyring(try keyring(for: "backup"))
                : .recipients(try configuration.backupRecipientPaths.map(BackupRecipient.load))
            var job = BackupJob(db: db, conninfo: configuration.conninfo, policy: policy, sealing: sealing,
                                repository: try repository(), logger: logger)
            job.stop = stop
            job.signingKey = try configuration.backupSigningKeyPath.map(BackupSigningKey.load)
            let manifest = try job.run()
            return JobResult(detail: "backup \(manifest.id): \(manifest.size) bytes")
        case .backupExpire:
            let repository = try repository()
            let plan = try BackupExpiry(repository: repository, keys: try openingKeys()).run(now: Date(), keep: policy.backup.keep, dryRun: false)
            if let error = BackupExpiry.untrustedError(plan) { throw error }
            return JobResult(detail: "\(plan.remove.count) backup(s) removed, \(plan.keep.count) kept")
        case .inspect:
            return try inspect(db)
        case .requestsCheck:
            let overdue = try RequestRegister(db).overdue()
            for request in overdue {
                logger.warning("request past its due date", metadata: ["request": "\(request.id)", "kind": "\(request.kind)",
                                                                      "due": "\(Timestamps.iso(request.dueAt))"])
            }
            return JobResult(succeeded: overdue.isEmpty, detail: overdue.isEmpty ? "no request is overdue"
                             : "\(overdue.count) request(s) overdue: \(overdue.map { String($0.id) }.joined(separator: ", "))")
        }
    }

    private func inspect(_ db: PostgresConnection) throws -> JobResult {
        let report = try Inspection(db, policy: configuration.policy, repositoryDirectory: configuration.repositoryDirectory).run()
        for finding in report.findings {
            logger.warning("\(finding.line)", metadata: [
                "event.action": "inspect", "kind": "\(finding.kind.rawValue)", "subject": "\(finding.subject)",
                "rows": "\(finding.rows.map(String.init) ?? "")", "hint": "\(finding.hint)",
            ])
        }
        return JobResult(succeeded: report.findings.isEmpty,
                         detail: report.findings.isEmpty ? "no finding" : "\(report.findings.count) finding(s): "
                             + report.countsByKind.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
                         counts: report.countsByKind)
    }

    /// The keyring the backup jobs need: they seal, and trust backup headers only once they authenticate.
    private func keyring(for job: String) throws -> Keyring {
        guard let path = configuration.keyringPath else {
            throw LetheError.usage("the \(job) job needs the keyring", hint: "set LETHE_KEYRING in the worker's environment, or set schedule.\(job): off")
        }
        return try Keyring.load(path: path)
    }

    /// Expiry trusts a header only once it authenticates: the keyring for format 1, backup private keys for format 2.
    private func openingKeys() throws -> BackupOpeningKeys {
        let keys = try BackupOpeningKeys.load(keyringPath: configuration.keyringPath, privateKeyPaths: configuration.backupKeyPaths)
        guard !keys.isEmpty else {
            throw LetheError.usage("the backup_expire job needs the keyring or a backup private key",
                                   hint: "set LETHE_KEYRING or LETHE_BACKUP_KEY in the worker's environment, or set schedule.backup_expire: off")
        }
        return keys
    }

    private func repository() throws -> BackupRepository {
        guard let directory = configuration.repositoryDirectory else {
            throw LetheError.usage("no backup repository is configured", hint: "set LETHE_BACKUP_REPO or backup.repo in the policy, or set schedule.\(job.rawValue): off")
        }
        return try BackupRepository(directory: directory)
    }
}
