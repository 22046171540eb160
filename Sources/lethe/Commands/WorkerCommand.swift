import ArgumentParser
import Foundation
import LetheCore
import Logging
import Policy
import Jobs
import Serve
import ServiceLifecycle
import Keys
import Worker

struct WorkerCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run every job on the policy's schedule, for years, unattended (or once with --once, for cron).",
        discussion: """
            Jobs and their policy keys: partitions, purge, backup, backup_expire, requests_check, inspect, encrypt (off by default). Each runs on its \
            schedule: entry (five cron fields read in UTC, 'N seconds', or 'off'). A job that never ran, or whose \
            latest slot passed since its last recorded run (by the worker or a cron-run command), runs now: after \
            downtime, once, not once per missed slot. Every run is recorded in lethe.job_runs (see 'lethe status'), \
            logged as an ECS line with event.action, event.outcome and event.duration (--log-format json), and \
            counted in the metrics file (--metrics-file).

            Two workers may run against one database: each slot runs once (the other logs that it skipped), and a \
            job never runs twice at once (the advisory lock the one-shot commands take too). A failed job does not \
            stop the worker: it runs again at its next slot. An unreachable database is retried with back-off.

            SIGTERM or SIGINT: no new job starts; a running purge stops after its current batch (its ledger says \
            interrupted), a backup removes its partial file; exit 0.

            The backup job needs a repository (LETHE_BACKUP_REPO or backup.repo) and either the operators' public \
            key(s) (LETHE_BACKUP_RECIPIENT: the worker then holds no key that opens a backup) or the keyring \
            (LETHE_KEYRING). backup_expire trusts a backup's date only once its header authenticates, so it needs \
            LETHE_BACKUP_KEY or LETHE_KEYRING: run it on the operators' host, or set it 'off' on the worker. \
            purge, partitions, inspect and requests_check need no key at all; encrypt (which seals what other writers left in clear) needs the keyring, so it belongs on the operators' host.

            Examples:
              lethe worker --log-format json --metrics-file /var/lib/lethe/metrics/lethe.prom
              lethe worker --once          # from cron: run whatever is due, then exit (1 if a job failed)
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var recipients: BackupRecipientOptions
    @OptionGroup var signing: BackupSigningOptions
    @OptionGroup var backupKeys: BackupKeyOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var pgTools: PostgresToolsOptions
    @OptionGroup var metrics: MetricsFileOption
    @OptionGroup var ledgerOptions: LedgerOptions

    @Flag(help: "Run every job that is due now, then exit.")
    var once = false

    @Option(name: .customLong("serve-socket"), help: ArgumentHelp(
        "Also answer the platform's API as 'lethe serve' does, on this Unix socket, in the worker's process (needs the keyring and the policy's serve.clients).",
        valueName: "path"))
    var serveSocket: String?

    func validate() throws {
        if once && serveSocket != nil { throw ValidationError("--serve-socket runs a service: it cannot be combined with --once") }
    }

    var defaultLogLevel: Logger.Level { .info }

    func execute() throws {
        pgTools.export()
        let policy = try policyOptions.load()
        var configuration = JobSettings(conninfo: database.conninfo, policy: policy, keyringPath: keyring.path,
                                        repositoryDirectory: repository.directory(policy), metricsFile: metrics.path)
        configuration.backupRecipientPaths = recipients.paths
        configuration.backupSigningKeyPath = signing.path
        configuration.backupKeyPaths = backupKeys.paths
        configuration.ledger = try ledgerOptions.ledger(keyring: try keyring.path.map(Keyring.load))
        let logger = Logger(label: "lethe.worker")
        logger.info("worker started", metadata: [
            "event.action": "worker.start", "policy": "\(policy.source)",
            "schedule": "\(JobName.allCases.map { "\($0.rawValue)=\(policy.schedule[$0]?.description ?? "off")" }.joined(separator: "; "))",
        ])
        var alongside: [any Service] = []
        if let serveSocket {
            let settings = ServeSettings(conninfo: database.conninfo, policy: policy, keyring: try keyring.load(), socket: serveSocket)
            alongside += try LetheService(settings: settings, logger: Logger(label: "lethe.serve")).services()
        }
        let failed = Locked<[String]>([])
        try WorkerService.runBlocking(worker: Worker(configuration: configuration, logger: logger), once: once, logger: logger, alongside: alongside) { report in
            failed.withLock { $0 += report.ran.filter { $0.value == .failure }.map(\.key.rawValue) + (report.connected ? [] : ["connect"]) + (report.reconcileFailed ? ["reconcile"] : []) }
        }
        logger.info("worker stopped", metadata: ["event.action": "worker.stop"])
        if once && !failed.value.isEmpty {
            throw LetheError(.checkFailed, "job(s) failed: \(failed.value.joined(separator: ", "))", hint: "see 'lethe status' and the log lines above")
        }
    }
}
