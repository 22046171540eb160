import Keys
import LetheCore
import Policy

/// `encrypt` (a worker job, off unless scheduled): seals the clear values writers other than Lethe left in the
/// policy's personal columns, column by column, as `encrypt migrate --from plaintext` does (resumable batches,
/// every envelope verified before it is written, values already sealed skipped). It needs the keyring, so it runs
/// on the operators' host, not the keyless worker host; `inspect` counts what is still in clear.
public struct EncryptJob: RecordedJob {
    public init() {}

    public var name: JobName { .encrypt }

    public struct Report: Sendable, Encodable {
        /// `schema.table.column` -> values sealed by this run.
        public var sealed: [String: Int] = [:]
        /// `schema.table.column` -> values left as they were (the log names their row ids).
        public var failed: [String: Int] = [:]
    }

    public func run(_ context: JobContext) throws -> Report {
        let policy = try context.policy()
        let keyring = try Keyring.load(path: try context.settings.requiredKeyringPath(for: name))
        let vault = try Vault(db: context.db, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        let migration = LegacyColumnMigration(db: context.db, policy: policy, vault: vault)
        var report = Report()
        for table in policy.tables where table.customerColumn != nil {
            for column in table.personalColumns {
                try context.stop.check("sealing \(table.name).\(column.name)")
                let done = try migration.run(table: table.name.description, column: column.name, from: .plaintext, legacyKey: nil)
                let key = "\(table.name).\(column.name)"
                if done.converted > 0 { report.sealed[key] = done.converted }
                if !done.failed.isEmpty {
                    report.failed[key] = done.failed.count
                    context.logger.warning("values that are neither sealed nor readable as clear text were left as they were", metadata: [
                        "event.action": "encrypt", "column": "\(key)", "rows": "\(done.failed.prefix(20).map(\.rowId).map(String.init).joined(separator: ","))"])
                }
            }
        }
        return report
    }

    public func result(of report: Report) -> JobResult {
        let sealed = report.sealed.values.reduce(0, +), failed = report.failed.values.reduce(0, +)
        return JobResult(succeeded: failed == 0,
                         detail: "\(sealed) value(s) sealed" + (report.sealed.isEmpty ? "" : " (" + report.sealed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
                             + (failed == 0 ? "" : ", \(failed) left unconverted"))
    }
}
