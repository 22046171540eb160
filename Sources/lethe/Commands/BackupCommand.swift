import Access
import ArgumentParser
import Backup
import Foundation
import Jobs
import Keys
import LetheCore
import Policy
import Postgres
import Restore

struct RepositoryOptions: ParsableArguments {
    @Option(name: .customLong("repo"), help: ArgumentHelp("Backup repository directory (default: LETHE_BACKUP_REPO, then the policy's backup.repo, then /var/backups/lethe if it exists).", valueName: "dir"))
    var repo: String?

    static let systemRepository = "/var/backups/lethe"

    func directory(_ policy: RetentionPolicy) -> String? {
        repo ?? ProcessInfo.processInfo.environment["LETHE_BACKUP_REPO"] ?? policy.backup.repository
            ?? (FileManager.default.fileExists(atPath: Self.systemRepository) ? Self.systemRepository : nil)
    }

    func repository(_ policy: RetentionPolicy) throws -> BackupRepository {
        guard let directory = directory(policy) else {
            throw LetheError.usage("no backup repository given", hint: "pass --repo DIR, set LETHE_BACKUP_REPO, or set backup.repo in the policy")
        }
        return try BackupRepository(directory: directory)
    }
}

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Encrypted logical backups: create (the default), list, show, verify, expire.",
        discussion: """
            A backup is one pg_dump -Fc of the policy's backup tables (customers, contacts, templates, delivery \
            reports) and Lethe's own tables, from one snapshot, compressed (zstd) and sealed in 64 KiB AES-256-GCM \
            chunks as it streams: no plaintext byte touches the disk. Files are <id>.lethe-backup (mode 0600) with \
            a manifest <id>.json beside them; verify and restore need only the file and the keyring.

            Examples:
              lethe backup --repo /var/backups/lethe
              lethe backup list
              lethe backup verify --all
              lethe backup expire --dry-run
            """,
        subcommands: [BackupCreateCommand.self, BackupListCommand.self, BackupShowCommand.self, BackupVerifyCommand.self, BackupExpireCommand.self],
        defaultSubcommand: BackupCreateCommand.self
    )
}

struct BackupCreateCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Take a backup now (what 'lethe backup' does).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var recipients: BackupRecipientOptions
    @OptionGroup var signing: BackupSigningOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var pgTools: PostgresToolsOptions
    @OptionGroup var metrics: MetricsFileOption
    @Flag(help: "Print the manifest as JSON.") var json = false

    func execute() throws {
        try OneShotJob.guarding(.backup, database: database, metricsFile: metrics.path) { try executeJob() }
    }

    func executeJob() throws {
        pgTools.export()
        let policy = try policyOptions.load()
        let db = try database.connect(for: .worker, .operator, command: "backup", policy: policy)
        var settings = JobSettings(conninfo: database.conninfo, policy: policy, keyringPath: keyring.path,
                                   repositoryDirectory: repository.directory(policy), metricsFile: metrics.path)
        settings.backupRecipientPaths = recipients.paths
        settings.backupSigningKeyPath = signing.path
        let manifest = try OneShotJob.run(BackupCreateJob(), db: db, settings: settings)
        if json { return try Output.json(manifest) }
        let rows = manifest.tables.filter(\.data).reduce(Int64(0)) { $0 + $1.rows }
        Output.line("backup \(manifest.id): \(manifest.tables.filter(\.data).count) tables, \(rows) rows, \(manifest.size) bytes, sha256 \(manifest.sha256.prefix(16))")
        Output.line("written to \(manifest.file) (mode 0600), sealed \(manifest.recipients.map { "to public key(s) \($0.joined(separator: ", "))" } ?? "with key-encryption key \(manifest.kekId)")"
                    + (manifest.signer.map { ", signed by \($0)" } ?? ""))
        if let left = manifest.notBackedUp, !left.isEmpty {
            Output.line("not backed up (not in the policy): \(left.joined(separator: ", "))")
            Output.line("HINT: declare them in the policy (backup: true, or backup: false for structure only) to back them up")
        }
    }
}

struct BackupListCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List complete backups, oldest first.",
        discussion: """
            Dates and counts come from each backup's header. With a key that opens them (the keyring, or a backup \
            private key for those SEALED TO public keys), every header is checked too: HEADER says 'intact' or \
            'NOT INTACT' (altered, renamed, or another keyring's); without one, '-' (the date is only what the file \
            says). ORIGIN says what was proven about who made it: 'signed by <fingerprint>' (a trusted signer's \
            signature: --signer or the policy's backup.signers), 'keyring (KEK n)' (sealed with the keyring, which \
            only a keyring holder can do), 'sealed' (it opens, but anyone holding the public key could have made \
            it), or 'unverified'. 'lethe backup verify' checks every byte.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var backupKeys: BackupKeyOptions
    @OptionGroup var signers: SignerOptions
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        var keys = try backupKeys.openingKeys(keyring: keyring, required: false)
        keys.signers = try signers.load(policy)
        let entries = try repository.repository(policy).list(keys: keys.isEmpty && keys.signers.isEmpty ? nil : keys)
        if json { return try Output.json(entries) }
        if entries.isEmpty { return Output.line("no backups") }
        Output.table(["ID", "CREATED", "SIZE", "ROWS", "MANIFEST", "SEALED TO", "HEADER", "ORIGIN"], entries.map {
            [$0.id, Timestamps.iso($0.createdAt), "\($0.size)", "\($0.tables.filter(\.data).reduce(Int64(0)) { $0 + $1.rows })", $0.hasManifest ? "yes" : "missing", $0.sealedTo,
             $0.headerAuthenticated.map { $0 ? "intact" : "NOT INTACT" } ?? "-", $0.origin.description]
        })
    }
}

struct BackupShowCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a backup's header: date, tables and rows, versions.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var pgTools: PostgresToolsOptions
    @Argument(help: "Backup id (see 'lethe backup list').") var id: String

    func execute() throws {
        guard let entry = try repository.repository(try policyOptions.load()).list().first(where: { $0.id == id }) else {
            throw LetheError.noInput("no backup \(id)", hint: "see 'lethe backup list'")
        }
        try Output.json(entry)
    }
}

struct BackupVerifyCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Authenticate every byte of a backup (no database needed) and check its dump with pg_restore --list; exit 79 if not intact.",
        discussion: """
            Each backup's origin is reported too: 'signed by <fingerprint>' (a trusted signer's signature over its \
            header and every chunk), 'keyring (KEK n)', or 'sealed' (it opens, but whoever holds the public key it \
            is sealed to could have made it). With trusted signers (--signer, or the policy's backup.signers), a \
            backup whose origin is not proven fails verification (exit 79), as 'lethe restore' would refuse it.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var backupKeys: BackupKeyOptions
    @OptionGroup var signers: SignerOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var pgTools: PostgresToolsOptions
    @Argument(help: "Backup id.") var id: String?
    @Flag(name: .customLong("checksum-only"),
          help: "Only compare each file's SHA-256 with its manifest: no key needed (for copies on another host); proves the copy, not the backup's authenticity.")
    var checksumOnly = false
    @Flag(help: "Verify every backup in the repository.") var all = false
    @Flag(help: "Print as JSON.") var json = false

    func validate() throws {
        guard (id == nil) != !all else { throw ValidationError("give a backup id or --all") }
    }

    func execute() throws {
        pgTools.export()
        let policy = try policyOptions.load()
        let repo = try repository.repository(policy)
        let ids = all ? try repo.list().map(\.id) : [id!]
        if checksumOnly { return try verifyChecksums(repo, ids) }
        var keys = try backupKeys.openingKeys(keyring: keyring)
        keys.signers = try signers.load(policy)
        let verifier = BackupVerifier(repository: repo, keys: keys)
        var results: [BackupVerifier.Result] = []
        var failures: [String] = []
        for id in ids {
            do {
                let result = try verifier.verify(id)
                results.append(result)
                if let unproven = result.origin.reason, !keys.signers.isEmpty {
                    failures.append("backup \(id): origin not proven: \(unproven)")
                    if !json { Output.line("backup \(id): intact, but its origin is NOT PROVEN: \(unproven)") }
                } else if !json {
                    Output.line("backup \(id): intact (every chunk authenticated; pg_restore reads \(result.tocEntries) table-of-contents entries); origin: \(result.origin)")
                }
            } catch let error as LetheError where error.code == .integrity {
                failures.append(error.message)
                if !json { Output.line("backup \(id): NOT INTACT: \(error.message)") }
            }
        }
        if json { try Output.json(results) }
        if !failures.isEmpty {
            throw LetheError.integrity("\(failures.count) backup(s) failed verification", hint: "do not restore them; take a new backup")
        }
    }
}

extension BackupVerifyCommand {
    func verifyChecksums(_ repo: BackupRepository, _ ids: [String]) throws {
        let checks = try ids.map { try repo.checksum($0) }
        if json {
            try Output.json(checks)
        } else {
            for check in checks {
                Output.line("backup \(check.id): \(check.matches ? "checksum matches its manifest" : "CHECKSUM DIFFERS from its manifest")")
            }
        }
        let differing = checks.filter { !$0.matches }.map(\.id)
        if !differing.isEmpty {
            throw LetheError.integrity("\(differing.count) backup(s) differ from their manifest's SHA-256: \(differing.joined(separator: ", "))",
                                       hint: "the copy is damaged: copy it again from the repository")
        }
    }
}

struct BackupExpireCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Remove backups past the policy's keep period, and always any older than six months.",
        discussion: """
            The newest backup that verifies is kept while it is within six months, even past the keep period. \
            Dates are read from backup headers and trusted only once a header authenticates (under the keyring, or a \
            backup private key for backups sealed to public keys): a \
            backup whose header does not is left alone and reported (exit 79). \
            When the database is reachable, the run is recorded for 'lethe status' (as the worker's runs are).
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var backupKeys: BackupKeyOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var metrics: MetricsFileOption
    @Flag(name: .customLong("dry-run"), help: "Print what would be removed; remove nothing.") var dryRun = false
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        try OneShotJob.guarding(.backupExpire, database: database, metricsFile: metrics.path, recording: !dryRun) { try executeJob() }
    }

    func executeJob() throws {
        let policy = try policyOptions.load()
        var settings = JobSettings(conninfo: database.conninfo, policy: policy, keyringPath: keyring.path,
                                   repositoryDirectory: repository.directory(policy), metricsFile: metrics.path)
        settings.backupKeyPaths = backupKeys.paths
        // Unreachable: expire anyway (the run is not recorded); reachable without the duty's privileges: exit 77.
        var db: PostgresConnection?
        if !dryRun {
            do {
                db = try database.connect(for: .worker, .operator, command: "backup expire")
            } catch let error as LetheError where error.code == .unavailable {
                db = nil
            }
        }
        if !dryRun && db == nil { Terminal.warn("database not reachable: this run is not recorded in lethe.job_runs") }
        let plan = try db.map { try OneShotJob.run(BackupExpireJob(), db: $0, settings: settings) }
            ?? BackupExpireJob.expire(settings, dryRun: dryRun)
        if json {
            try Output.json(plan)
        } else {
            for id in plan.remove { Output.line("\(dryRun ? "would remove" : "removed") \(id): \(plan.reasons[id] ?? "")") }
            for id in plan.untrusted { Output.line("left \(id): its header does not authenticate") }
            Output.line("\(plan.remove.count) backup(s) \(dryRun ? "to remove" : "removed"), \(plan.keep.count) kept")
        }
        if let error = BackupExpiry.untrustedError(plan) { throw error }
    }
}

struct RestoreCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into a target database, after verifying all of it.",
        discussion: """
            Nothing is touched unless the whole backup authenticates and pg_restore can read it. A target that already \
            holds the backup's tables is refused unless --clean. pg_restore runs in one transaction. Afterwards the \
            live database's retention overrides, legal holds, shredded keys and subject erasures (from --database-url / \
            LETHE_DATABASE_URL / PG*) are applied and the target is purged, so a restore never brings back data removed \
            since: every person erased after the backup was taken is erased again, and the report counts those rows.

            Examples:
              lethe restore 20261125T020000Z-3fa2 --target-database postgresql://ops@restore-host/sms_restore --dry-run
              lethe restore 20261125T020000Z-3fa2 --target-database postgresql://ops@restore-host/sms_restore
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var backupKeys: BackupKeyOptions
    @OptionGroup var signers: SignerOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var pgTools: PostgresToolsOptions
    @OptionGroup var ledgerOptions: LedgerOptions
    @Argument(help: "Backup id (see 'lethe backup list').") var id: String
    @Flag(name: .customLong("trust-unsigned"),
          help: "Restore a backup whose origin cannot be proven (sealed to a public key, signed by no trusted signer): exit 1, said in the report and the audit record.")
    var trustUnsigned = false
    @Option(name: .customLong("target-database"), help: ArgumentHelp("Where to restore (URL or conninfo).", valueName: "url")) var targetDatabase: String
    @Option(name: .customLong("table"), help: ArgumentHelp("Restore only this table's rows (repeatable); the target must have the schema.", valueName: "name"))
    var tables: [String] = []
    @Flag(help: "Replace the target's tables that the backup holds.") var clean = false
    @Flag(name: .customLong("without-erasure-replay"),
          help: "Restore even though the live database is unreachable: erasures and shreds done since the backup are NOT replayed (exit 1, said in the report and the audit record).")
    var withoutErasureReplay = false
    @Flag(name: .customLong("dry-run"), help: "Verify and check the target; restore nothing.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func execute() throws {
        pgTools.export()
        let policy = try policyOptions.load()
        let ledgerConfigured = ledgerOptions.root != nil
        let live: Postgres.PostgresConnection?
        do {
            live = try database.connect(for: .operator, command: "restore", policy: policy)
        } catch let error as LetheError where error.code == .unavailable {
            // Without the live database's tombstones and shreds, a restore would bring back people erased since: the
            // ledger outside the database has them too; without either, only --without-erasure-replay restores.
            guard ledgerConfigured || withoutErasureReplay || dryRun else {
                throw LetheError.unavailable("the live database is unreachable and no ledger is configured: erasures and shreds done since the backup could not be replayed, so nothing was restored",
                                             hint: "make it reachable (--database-url), give the ledger (--ledger, LETHE_LEDGER), or pass --without-erasure-replay to restore anyway and replay them later")
            }
            if !ledgerConfigured {
                Terminal.warn("live database not reachable: retention is re-applied with the overrides and holds stored in the backup, and erasures done since the backup are NOT replayed")
            } else {
                Terminal.warn("live database not reachable: erasures, shreds, retention changes and hold releases since the backup are replayed from the ledger")
            }
            live = nil
        }
        let keys = try keyring.load()
        let ledger = try ledgerOptions.ledger(keyring: keys)
        var job = RestoreJob(live: live, policy: policy, keyring: keys, backupKeys: try backupKeys.load(),
                             repository: try repository.repository(policy))
        job.ledger = ledger
        job.signers = try signers.load(policy)
        job.trustUnsigned = trustUnsigned
        job.liveConninfo = database.conninfo
        let report = try job.run(id: id, targetConninfo: targetDatabase, tables: tables, clean: clean, dryRun: dryRun)
        if json {
            try Output.json(report)
        } else {
            Output.line(dryRun ? "backup \(id) verified; would restore into \(report.target):" : "backup \(id) restored into \(report.target):")
            Output.table(["TABLE", "ROWS"], report.tables.filter(\.data).map { [$0.name, "\($0.rows)"] })
            if !report.structureFromLive.isEmpty {
                Output.line("structure \(dryRun ? "to be copied" : "copied") from the live database (tables Lethe's migrations do not make): \(report.structureFromLive.joined(separator: ", "))")
            }
            if !dryRun {
                Output.line("retention re-applied\(report.retentionFromLiveDatabase ? " with the live database's overrides and holds" : ""): \(report.rowsPurgedAfterRestore) row(s) purged; \(report.shredsReplayed) shredded key(s) replayed")
                if live == nil && ledger != nil {
                    Output.line("erasures replayed from the ledger (the live database was unreachable): \(report.ledgerRecordsReplayed) record(s) re-applied, \(report.rowsErasedAgain) row(s) erased again")
                } else if live == nil {
                    Output.line("erasures NOT replayed: the live database was unreachable (--without-erasure-replay); people erased since the backup may be back")
                } else {
                    Output.line("erasures replayed: \(report.erasuresReplayed) erasure(s) of the live database applied again, \(report.rowsErasedAgain) row(s) erased again")
                }
            }
            if let unproven = report.origin.reason {
                Output.line("origin NOT PROVEN (--trust-unsigned): \(unproven)")
            } else {
                Output.line("origin: \(report.origin)")
            }
        }
        if live == nil && ledger == nil && !dryRun {
            throw LetheError(.checkFailed, "restored without replaying erasures and shreds done since the backup",
                             hint: "rerun the restore with the live database reachable before the restored data is used")
        }
        if let unproven = report.origin.reason {
            throw LetheError(.checkFailed, "\(dryRun ? "would restore" : "restored") backup \(id), whose origin is not proven: \(unproven)",
                             hint: "make backups with --sign-key and trust the signer (--signer FILE.pub or backup.signers)")
        }
    }
}
