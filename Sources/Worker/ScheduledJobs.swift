import Jobs
import Policy

extension JobName {
    /// The job as the worker runs it: what its one-shot command does with its defaults.
    var scheduled: any RecordedJob {
        switch self {
        case .partitions: PartitionsEnsureJob()
        case .purge: PurgeRunJob()
        case .backup: BackupCreateJob()
        case .backupExpire: BackupExpireJob()
        case .requestsCheck: RequestsCheckJob()
        case .inspect: InspectJob()
        case .encrypt: EncryptJob()
        }
    }
}
