import Audit
import Backup
import Foundation
import Keys
import Ledger
import LetheCore
import Logging
import Policy
import Postgres
import Purge
import Schema
import Subject
import Zstd

/// `lethe restore`: verifies the whole backup first (nothing is touched if that fails), refuses a target that
/// already holds its tables unless --clean, builds the target's schema with Lethe's migrations and loads only the
/// archive's data (`ArchiveDataLoader`), then re-applies what
/// happened since the backup: the live database's retention overrides, legal holds and shredded keys, and a
/// purge, so a restore never brings back data the policy has removed since.
public struct RestoreJob {
    let live: PostgresConnection?
    let policy: RetentionPolicy
    /// The keyring re-indexes and replays erasures in the restored data; backup private keys open format 2 files.
    let keyring: Keyring
    let backupKeys: [BackupPrivateKey]
    let repository: BackupRepository
    let logger: Logger
    /// The signers whose signature proves a format-2 backup's origin.
    public var signers: [BackupSigner] = []
    /// Restore a backup whose origin cannot be proven (said in the report and the audit record).
    public var trustUnsigned = false
    /// The live database's connection string, for the structure of application tables Lethe's migrations do not make.
    public var liveConninfo: String?
    /// The ledger outside the database: its records after the backup are replayed into the target too, and are the
    /// only source of the erasures and shreds to replay when the live database is unreachable (issue 32).
    public var ledger: Ledger?

    public init(live: PostgresConnection?, policy: RetentionPolicy, keyring: Keyring, backupKeys: [BackupPrivateKey] = [],
                repository: BackupRepository, logger: Logger = Logger(label: "lethe.restore")) {
        self.live = live
        self.policy = policy
        self.keyring = keyring
        self.backupKeys = backupKeys
        self.repository = repository
        self.logger = logger
    }

    var openingKeys: BackupOpeningKeys { BackupOpeningKeys(keyring: keyring, privateKeys: backupKeys, signers: signers) }

    public struct Report: Sendable, Encodable {
        public let id: String
        public let target: String
        public let dryRun: Bool
        /// Who made the backup, as proven (or not: then only with --trust-unsigned).
        public let origin: BackupOrigin
        public var tables: [BackupEssentials.Table] = []
        public var rowsPurgedAfterRestore: Int64 = 0
        public var shredsReplayed = 0
        /// Erasures done in the live database after the backup was taken, applied again, and the rows they removed.
        public var erasuresReplayed = 0
        /// Ledger records the target lacked after the load, re-applied (with the live database unreachable, every
        /// erasure, shred, retention change and hold release since the backup).
        public var ledgerRecordsReplayed = 0
        public var rowsErasedAgain = 0
        public var retentionFromLiveDatabase = false
        /// Schemas set aside by --clean and kept, because they hold tombstones or shreds the restored copy lacks.
        public var setAsideKept: [String] = []
        /// Partitions made from the archive's bounds.
        public var partitionsCreated = 0
        /// Statements of the archive that are not data (schema, functions, grants...): never run.
        public var archiveStatementsIgnored = 0
        /// Columns of the archive the target's schema lacks (a backup from an older Lethe): left out.
        public var columnsDropped: [String] = []
        /// The policy's tables Lethe's migrations do not make (an adopted application's), whose structure was (or,
        /// with --dry-run, would be) copied from the live database's catalog.
        public var structureFromLive: [String] = []
    }

    public func run(id: String, targetConninfo: String, tables wanted: [String], clean: Bool, dryRun: Bool) throws -> Report {
        let target = try PostgresConnection(conninfo: targetConninfo)
        if let live { try LiveDatabase.refuseAsTarget(target, live: live) }
        let essentials = try repository.essentials(id)
        let verified = try BackupVerifier(repository: repository, keys: openingKeys).verify(id)
        logger.info("backup verified", metadata: ["id": "\(id)", "bytes": .stringConvertible(verified.bytes), "origin": "\(verified.origin)"])
        if let unproven = verified.origin.reason {
            guard trustUnsigned else {
                throw LetheError(.integrity, "backup \(id) is intact but its origin cannot be proven: \(unproven); nothing was restored",
                                 hint: "trust its signer with --signer FILE.pub (or the policy's backup.signers), or pass --trust-unsigned if you know where it came from")
            }
            logger.warning("restoring a backup whose origin is not proven (--trust-unsigned)", metadata: ["id": "\(id)", "reason": "\(unproven)"])
        }
        var report = Report(id: id, target: target.target.description, dryRun: dryRun, origin: verified.origin)
        let marker = RestoreMarker(target: target)
        let pending = try marker.pending()
        if let pending, pending.backupId != id {
            throw LetheError(.cannotCreate, "the target database holds an unfinished restore of backup \(pending.backupId)",
                             hint: "finish it first: rerun 'lethe restore \(pending.backupId)' with the same target (it carries on where it stopped)")
        }
        let selected = try selectTables(essentials, wanted)
        let present = try selected.filter { table in
            try target.query("SELECT to_regclass(\(.text(try QualifiedName(catalogParsing: table.name).quoted))) IS NOT NULL AS present").single("present").bool("present")
        }
        // A full restore killed after its data committed: the data is there, kept unreachable; replay and finish.
        // Killed before: the marker is there and the target as it was; the load runs again.
        let resuming = pending?.dataLoaded == true && wanted.isEmpty
        if !present.isEmpty && !clean && wanted.isEmpty && pending == nil {
            throw LetheError(.cannotCreate, "the target database already holds \(present.count) of the backup's tables (e.g. \(present[0].name))",
                             hint: "restore into an empty database, or pass --clean to replace them")
        }
        if clean && wanted.isEmpty && pending == nil { try refuseCleanOverOtherTables(essentials, in: target) }
        guard !dryRun else {
            report.tables = selected
            // What the restore's own transaction will find: Lethe's migrations run, then the tables they do not make.
            try target.execute("BEGIN")
            defer { _ = try? target.execute("ROLLBACK") }
            try Migrator(set: try MigrationSet.embedded(), policy: policy).migrateInOpenTransaction(on: target)
            let lacking = try tablesLackingStructure(in: target, wanted: wanted)
            if !lacking.isEmpty { _ = try structure(for: lacking) }
            report.structureFromLive = lacking.map(\.description)
            return report
        }
        // Every replay input, read before anything in the target is set aside or restored.
        let decisions = try live.map(LiveDecisions.init(reading:))
        if resuming {
            logger.warning("finishing a restore that was interrupted after its data committed", metadata: ["id": "\(id)"])
        } else {
            let (loaded, structure) = try loadData(id, essentials: essentials, target: target, wanted: wanted, clean: clean, marker: marker,
                                                   reloading: pending != nil)
            report.structureFromLive = structure
            report.partitionsCreated = loaded.partitionsCreated
            report.archiveStatementsIgnored = loaded.statementsIgnored
            report.columnsDropped = loaded.columnsDropped
        }
        // A backup taken by an older lethe lacks the newer lethe tables the replay below writes to.
        if wanted.isEmpty { _ = try Migrator(set: try MigrationSet.embedded(), policy: policy).migrate(on: target) }
        report.tables = try selected.map { table in
            let name = try QualifiedName(catalogParsing: table.name)
            let rows = table.data ? try target.query("SELECT count(*) AS n FROM \(name)").single("count").int("n") : 0
            return BackupEssentials.Table(name: table.name, rows: rows, data: table.data)
        }
        try replay(decisions, into: target, report: &report)
        // The end of the restore: its audit record, the set-aside schemas dropped, CONNECT given back, in one commit.
        try target.transaction {
            try AuditLog.append(target, action: "restore", target: "backup \(id)", details: [
                "rows_purged_after_restore": .int(report.rowsPurgedAfterRestore), "shreds_replayed": .int(Int64(report.shredsReplayed)),
                "erasures_replayed": .int(Int64(report.erasuresReplayed)), "rows_erased_again": .int(Int64(report.rowsErasedAgain)),
                "erasures_replay_skipped": .bool(live == nil && ledger == nil), "ledger_records_replayed": .int(Int64(report.ledgerRecordsReplayed)), "resumed": .bool(resuming),
                "origin": .string(report.origin.description), "origin_proven": .bool(report.origin.isProven),
            ])
            report.setAsideKept = try marker.finish()
        }
        for schema in report.setAsideKept {
            logger.warning("a set-aside schema holds erasures or shreds the restored copy lacks, so it was kept", metadata: [
                "schema": "\(schema)", "hint": "compare it with lethe.tombstones and lethe.customer_keys, then drop it by hand",
            ])
        }
        if let live {
            try AuditLog.append(live, action: "restore", target: "backup \(id)", details: [
                "target": .string(target.target.database), "origin": .string(report.origin.description), "origin_proven": .bool(report.origin.isProven),
            ])
        }
        return report
    }

    /// Builds the target's schema with Lethe's own migrations and loads only the archive's data, in one
    /// transaction: pg_restore turns the decrypted dump into a script on a pipe (it never connects), and
    /// `ArchiveDataLoader` takes the rows, sequence values and partition bounds from it; nothing else of the
    /// archive reaches the server. A full restore first writes the marker that keeps the result unreachable until
    /// the replay has finished.
    private func loadData(_ id: String, essentials: BackupEssentials, target: PostgresConnection, wanted: [String], clean: Bool,
                          marker: RestoreMarker, reloading: Bool) throws -> (ArchiveDataLoader.Result, structure: [String]) {
        let full = wanted.isEmpty
        if full && !reloading { try marker.begin(backupId: id, isolate: true) }
        // --clean: the target's schemas are set aside (renamed) and dropped only once the restore has finished.
        let setAside = clean && full ? try setAsideSchemas(of: essentials, in: target, marker: marker) : [:]
        let roots = full ? nil : Set(wanted.map { policy.table(named: $0)?.name.description ?? $0 })
        let loader = ArchiveDataLoader(target: target, policy: policy, wanted: roots, replacing: full)
        var loadedStructure: [String] = []
        nonisolated(unsafe) let script = try ChildProcess(try PostgresTools.find(serverVersion: essentials.serverVersion).pgRestore,
                                                          ["--file=-", "--no-owner", "--no-privileges"], environment: [:])
        let feeder = StreamFeeder()
        // Used by the feeding thread only (the verifier) or through separate pipes (pg_restore's stdin and stdout).
        nonisolated(unsafe) let verifier = BackupVerifier(repository: repository, keys: openingKeys)
        let thread = Thread {
            do {
                try verifier.decryptedStream(id, parallelism: 1) { piece in
                    if !feeder.broken && !script.writeInput(piece) { feeder.broken = true }
                }
            } catch {
                feeder.fail(error)
            }
            script.closeInput()
            feeder.done.signal()
        }
        thread.start()
        do {
            try target.transaction {
                do {
                    if full { try Migrator(set: try MigrationSet.embedded(), policy: policy).migrateInOpenTransaction(on: target) }
                    let lacking = try tablesLackingStructure(in: target, wanted: wanted)
                    if !lacking.isEmpty {
                        let (copier, script) = try structure(for: lacking)
                        try copier.apply(script, to: target, schemas: Set(lacking.map(\.schema)))
                        logger.info("application tables created from the live database's structure", metadata: ["tables": "\(lacking.map(\.description).joined(separator: ", "))"])
                    }
                    loadedStructure = lacking.map(\.description)
                    try loader.start()
                    try script.readOutput(closingInput: false) { try loader.feed($0) }
                    feeder.done.wait()
                    if let error = feeder.error { throw error }
                    let (status, stderr, _) = script.finish()
                    guard status == 0 else {
                        throw LetheError.integrity("backup \(id) authenticates but pg_restore cannot read its dump: \(ChildProcess.summary(stderr))")
                    }
                    try loader.finish()
                    if full { try marker.markLoaded() }
                } catch {
                    loader.abandon()
                    throw error
                }
            }
        } catch {
            script.kill()
            feeder.done.wait()
            script.finish()
            try putBack(setAside, in: target)
            if !reloading { try marker.abandon() }
            throw error
        }
        let result = loader.result
        logger.info("backup data loaded", metadata: [
            "tables": .stringConvertible(result.rows.count), "rows": .stringConvertible(result.rows.values.reduce(0, +)), "partitions_created": .stringConvertible(result.partitionsCreated),
            "archive_statements_ignored": .stringConvertible(result.statementsIgnored), "tables_skipped": "\(result.tablesSkipped.joined(separator: ", "))",
        ])
        if !result.columnsDropped.isEmpty {
            logger.warning("columns of the backup the target lacks were left out", metadata: ["columns": "\(result.columnsDropped.joined(separator: ", "))"])
        }
        return (result, loadedStructure)
    }

    /// The schemas Lethe's own migrations make, whose every table is Lethe's (`lethe`, and the reference `sms`).
    static let migrationSchemas: Set<String> = ["lethe", "sms"]

    /// What `--clean` sets aside: the schemas of the backup's tables, and the reference schema `sms` when the target
    /// has it, since the migrations that rebuild the target make it again (a policy of `public` tables left it
    /// in place, and the rebuild failed on `sms.customers already exists`).
    private func cleanedSchemas(of essentials: BackupEssentials, in target: PostgresConnection) throws -> [SQLIdentifier] {
        var schemas = Set(try essentials.tables.map { try QualifiedName(catalogParsing: $0.name).schema })
        if try target.query("SELECT to_regnamespace('sms') IS NOT NULL AS present").single("sms").bool("present") {
            schemas.insert(try SQLIdentifier("sms"))
        }
        return schemas.sorted()
    }

    /// A schema `--clean` sets aside is dropped once the restore has finished: refused, before anything is touched,
    /// while it holds relations the policy does not list (an application's own `public`, say), which the backup
    /// does not have and the restore would destroy.
    private func refuseCleanOverOtherTables(_ essentials: BackupEssentials, in target: PostgresConnection) throws {
        let listed = Set(policy.tables.map(\.name.description))
        for schema in try cleanedSchemas(of: essentials, in: target) where !Self.migrationSchemas.contains(schema.name) {
            let others = try target.query("""
                SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = \(.text(schema.name)) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition ORDER BY 1
                """).rows.map { QualifiedName(schema: schema, name: try SQLIdentifier(catalog: $0.string("name"))).description }
                .filter { !listed.contains($0) }
            guard others.isEmpty else {
                throw LetheError(.cannotCreate, "--clean would drop schema \(schema.name) of the target, which holds \(others.count) relation(s) the policy does not list (e.g. \(others[0])); nothing was changed",
                                 hint: "restore into an empty database, or drop the policy's tables in the target yourself and rerun without --clean")
            }
        }
    }

    /// The policy's tables (those asked for, or all but Lethe's own) the target lacks once Lethe's migrations have run.
    private func tablesLackingStructure(in target: PostgresConnection, wanted: [String]) throws -> [QualifiedName] {
        let names = wanted.isEmpty ? policy.tables.filter { $0.name.schema.name != "lethe" }.map(\.name)
                                   : wanted.compactMap { policy.table(named: $0)?.name }
        return try names.filter { name in
            try target.query("SELECT to_regclass(\(.text(name.quoted))) IS NULL AS lacking").single("lacking").bool("lacking")
        }
    }

    /// Their structure from the live database; refused, saying so, when there is none to read it from.
    private func structure(for tables: [QualifiedName]) throws -> (ApplicationStructure, String) {
        guard let live else {
            throw LetheError(.unavailable, "the target lacks \(tables.map(\.description).joined(separator: ", ")), which Lethe's migrations do not create, and a restore takes only data from a backup; nothing was restored",
                             hint: "make the live database reachable (--database-url: the structure is copied from its catalog), or create those tables in the target first (the application's own migrations), then rerun")
        }
        let version = try live.query("SELECT current_setting('server_version') AS v").single("version").string("v")
        let copier = ApplicationStructure(liveConninfo: liveConninfo, liveServerVersion: version)
        return (copier, try copier.script(for: tables))
    }

    /// Renames the target's schemas that the backup holds (`sms` -> `sms_replaced_<time>`), in one transaction.
    private func setAsideSchemas(of essentials: BackupEssentials, in target: PostgresConnection, marker: RestoreMarker) throws -> [SQLIdentifier: SQLIdentifier] {
        let schemas = try cleanedSchemas(of: essentials, in: target)
        let suffix = Int(Date().timeIntervalSince1970)
        var renamed: [SQLIdentifier: SQLIdentifier] = [:]
        try target.transaction {
            for schema in schemas.sorted() {
                let exists = try target.query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(.text(schema.name))) AS e").single("e").bool("e")
                guard exists else { continue }
                let aside = try SQLIdentifier(String(schema.name.prefix(30)) + "_replaced_\(suffix)")
                try target.execute("ALTER SCHEMA \(schema) RENAME TO \(aside)")
                renamed[schema] = aside
            }
            // Named in the marker in the same transaction, so a restore killed later still drops (or a failed one
            // puts back) exactly these.
            try marker.recordSetAside(Array(renamed.values))
        }
        return renamed
    }

    private func putBack(_ renamed: [SQLIdentifier: SQLIdentifier], in target: PostgresConnection) throws {
        guard !renamed.isEmpty else { return }
        try target.transaction {
            for (schema, aside) in renamed { try target.execute("ALTER SCHEMA \(aside) RENAME TO \(schema)") }
        }
    }

    private func selectTables(_ essentials: BackupEssentials, _ wanted: [String]) throws -> [BackupEssentials.Table] {
        guard !wanted.isEmpty else { return essentials.tables }
        var selected: [BackupEssentials.Table] = []
        for name in wanted {
            let matches = essentials.tables.filter { table in
                table.name == name || table.name.hasPrefix(name + "_p") || table.name.split(separator: ".").last.map(String.init) == name
            }
            guard !matches.isEmpty else { throw LetheError.noInput("backup \(essentials.id) has no table \(name)") }
            selected += matches
        }
        return selected
    }

    /// A backup taken before `lethe keys reindex` holds blind indexes of the old length: re-indexed to the policy's,
    /// so lookups and the tombstone replay work on the restored database.
    private func reindexIfNeeded(_ target: PostgresConnection) throws {
        guard let recorded = try BlindIndexReindex.recorded(target), recorded.bits != policy.blindIndexBits || recorded.reindexTo != nil else { return }
        let reindexed = try BlindIndexReindex(db: target, policy: policy, keyring: keyring, shortenTombstones: Tombstones.shortenBlindIndexes).run(to: policy.blindIndexBits, dryRun: false)
        logger.info("re-indexed the restored database's blind indexes", metadata: [
            "from_bits": .stringConvertible(recorded.bits), "to_bits": .stringConvertible(policy.blindIndexBits), "rows": .stringConvertible(reindexed.rows.values.reduce(0, +)),
        ])
    }

    /// Brings the restored database up to what the live one decided (read before the restore began), then purges.
    private func replay(_ decisions: LiveDecisions?, into target: PostgresConnection, report: inout Report) throws {
        if let decisions {
            try target.transaction {
                // Every register written by its owner: whole records, so a column a migration adds is kept.
                try RetentionOverrides.replay(decisions.overrides, into: target)
                try LegalHolds.replay(decisions.holds, into: target)
                report.shredsReplayed += try KeyAdministration.replay(decisions.shreds, into: target, policy: policy)
            }
            report.retentionFromLiveDatabase = true
            try reindexIfNeeded(target)
            let erasures = try TombstoneReplay(target: target, policy: policy, keyring: keyring, logger: logger).replay(decisions.tombstones)
            report.erasuresReplayed = erasures.tombstonesReplayed
            report.rowsErasedAgain = erasures.rowsErasedAgain
        } else {
            try reindexIfNeeded(target)
            if ledger == nil {
                logger.warning("live database not reachable: retention re-applied with the overrides and holds stored in the backup; erasures done since the backup are NOT replayed",
                               metadata: ["hint": "rerun the restore with the live database reachable (--database-url) so erased people stay erased"])
            }
        }
        // The ledger's records after the backup's position, re-applied by the replay `lethe reconcile` uses: with the
        // live database unreachable they are the erasures and shreds to replay; with it, they leave the target in
        // step with the ledger (idempotent where the live replay already did them).
        if let ledger {
            let replayed = try LedgerReplay(db: target, policy: policy, ledger: ledger, keyring: keyring, logger: logger).run(dryRun: false)
            report.ledgerRecordsReplayed = replayed.applied.count
            report.erasuresReplayed += replayed.applied.filter { $0.action == LedgerEntry.Action.erasure.rawValue && $0.changed }.count
            report.rowsErasedAgain += replayed.applied.reduce(0) { $0 + $1.rowsErasedAgain }
            report.shredsReplayed += replayed.applied.reduce(0) { $0 + $1.keysDestroyedAgain }
        }
        let purge = try PurgeJob(target, policy: policy).run(scope: PurgeScope(), wait: true)
        report.rowsPurgedAfterRestore = purge.tables.reduce(0) { $0 + $1.totalRows }
    }
}

/// The thread that feeds pg_restore the decrypted stream, and how it ended.
private final class StreamFeeder: @unchecked Sendable {
    private let failure = Locked<(any Error)?>(nil)
    /// pg_restore stopped reading (it failed, or was killed): the rest is only authenticated.
    var broken = false
    let done = DispatchSemaphore(value: 0)

    func fail(_ error: any Error) { failure.withLock { $0 = error } }
    var error: (any Error)? { failure.value }
}
