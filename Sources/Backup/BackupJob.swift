import Audit
import Foundation
import Keys
import LetheCore
import LetheCrypto
import Logging
import Policy
import Postgres
import Schema
import Zstd

/// What `lethe backup` wrote, as the manifest `<id>.json` records it.
public struct BackupManifest: Codable, Sendable {
    public let id: String
    public let file: String
    public let startedAt: Date
    public let finishedAt: Date
    public let tables: [BackupEssentials.Table]
    public let serverVersion: String
    public let pgDumpVersion: String
    public let policyHash: String
    /// The KEK that wrapped the file key (format 1), or 0 when sealed to public keys.
    public let kekId: Int
    /// Fingerprints of the public keys the file key is sealed to (format 2).
    public var recipients: [String]? = nil
    /// Fingerprint of the key that signed it (`--sign-key`); nil when unsigned.
    public var signer: String? = nil
    /// Tables and views of the dumped schemas that the policy does not list: left out of the backup altogether.
    public var notBackedUp: [String]? = nil
    public let compression: String
    public let size: Int
    public let sha256: String
}

/// `lethe backup`: a logical backup of the policy's backup tables (and Lethe's own), taken with `pg_dump -Fc`
/// from one exported snapshot and encrypted as it streams, so no plaintext byte reaches the disk.
public struct BackupJob {
    let db: PostgresConnection
    let conninfo: String?
    let policy: RetentionPolicy
    let sealing: BackupSealing
    let repository: BackupRepository
    let logger: Logger
    /// The backup's date; tests set it to build a history.
    var clock: () -> Date = Date.init
    /// Asked by the worker on shutdown: the dump is stopped and its partial file removed.
    public var stop = StopRequest.never
    /// Signs the header and the chunks, so that restores can prove the backup's origin.
    public var signingKey: BackupSigningKey?

    public init(db: PostgresConnection, conninfo: String?, policy: RetentionPolicy, sealing: BackupSealing, repository: BackupRepository,
                logger: Logger = Logger(label: "lethe.backup")) {
        self.db = db
        self.conninfo = conninfo
        self.policy = policy
        self.sealing = sealing
        self.repository = repository
        self.logger = logger
    }

    public func dated(_ date: Date) -> BackupJob {
        var copy = self
        copy.clock = { date }
        return copy
    }

    public func run() throws -> BackupManifest {
        guard try db.tryAdvisoryLock(.backup) else {
            throw LetheError(.tempFail, "another lethe backup is running on this database", hint: "wait for it to finish, then rerun")
        }
        defer { _ = try? db.advisoryUnlock(.backup) }
        // A backup sealed under a keyring that is not this database's would be unreadable by its operators.
        if case .keyring(let keyring) = sealing { try KeyringMatch.check(db, keyring) }
        for partial in repository.partials() {
            logger.warning("removing an unfinished backup left by a killed run", metadata: ["file": "\(partial)"])
            try? FileManager.default.removeItem(atPath: partial)
        }
        let started = clock()
        let id = try BackupClock.newId(started)
        let pgDump = try PostgresTools.find(for: db).pgDump
        let pgDumpVersion = try Self.version(of: pgDump)

        // One snapshot for the counts in the header and for pg_dump.
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? db.execute("ROLLBACK") }
        let snapshot = try db.query("SELECT pg_export_snapshot() AS s").single("snapshot").string("s")
        let serverVersion = try db.query("SELECT current_setting('server_version') AS v").single("version").string("v")
        let relations = try backupTables(), tables = relations.tables
        if !relations.undeclared.isEmpty {
            logger.warning("tables the policy does not list are not backed up", metadata: [
                "tables": "\(relations.undeclared.joined(separator: ", "))",
                "hint": "declare them in the policy (backup: true or false) to back them up; 'lethe policy check' lists them"])
        }
        let essentials = BackupEssentials(id: id, createdAt: started, database: db.target.database, tables: tables,
                                          serverVersion: serverVersion, pgDumpVersion: pgDumpVersion,
                                          policyHash: try SHA256.hex(policy.sourceBytes), compression: "zstd")
        let schemas = Set(policy.tables.map(\.name.schema.name) + ["lethe"]).sorted()
        var arguments = ["--format=custom", "--compress=0", "--no-owner", "--snapshot=\(snapshot)"]
        arguments += schemas.map { "--schema=\($0)" }
        arguments += relations.dataLeftOut.map { "--exclude-table-data=\($0)" }
        arguments += relations.leftOut.map { "--exclude-table=\($0)" }
        let connection = try ChildConnection(conninfo: conninfo, applicationName: "lethe backup")
        arguments.append("--dbname=\(connection.connectionString)")

        let writer = try BackupFileWriter(path: repository.backupPath(id), essentials: essentials, sealing: sealing, signingKey: signingKey)
        do {
            // Level 1: on dumps of sealed (incompressible) columns it was both faster and smaller than level 3 here.
            let compressor = try ZstdCompressor(level: 1)
            let dump = try ChildProcess(pgDump, arguments, environment: connection.environment)
            do {
                try dump.readOutput { piece in
                    try stop.check("writing backup \(id)")
                    try writer.write(try compressor.compress(piece))
                }
            } catch {
                dump.kill()
                _ = dump.finish()
                throw error
            }
            let (status, stderr, _) = dump.finish()
            guard status == 0 else {
                throw LetheError.unavailable("pg_dump failed (exit \(status)): \(ChildProcess.summary(stderr))", hint: "nothing was kept; check the connection and rerun")
            }
            try writer.write(try compressor.compress([], end: true))
            let (sha, size) = try writer.finish()
            var manifest = BackupManifest(id: id, file: repository.backupPath(id), startedAt: started, finishedAt: Date(), tables: tables,
                                          serverVersion: serverVersion, pgDumpVersion: pgDumpVersion, policyHash: essentials.policyHash,
                                          kekId: sealing.kekId, compression: "zstd", size: size, sha256: sha)
            manifest.recipients = sealing.recipientFingerprints
            manifest.notBackedUp = relations.undeclared.isEmpty ? nil : relations.undeclared
            manifest.signer = signingKey?.signer.fingerprint
            let encoder = BackupEssentials.encoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try SecureFile.replace(repository.manifestPath(id), contents: Array(try encoder.encode(manifest)) + [0x0A])
            _ = try? db.execute("ROLLBACK")
            try AuditLog.append(db, action: "backup", target: "backup \(id)", details: [
                "size": .int(Int64(size)), "sha256": .string(sha), "tables": .int(Int64(tables.count)),
                "signed_by": signingKey.map { .string($0.signer.fingerprint) } ?? .null,
                "not_backed_up": .array(relations.undeclared.map { .string($0) }),
            ])
            return manifest
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Leaf tables of the policy (and Lethe's own), with their row counts in the snapshot; the patterns whose
    /// data stays out (the policy's `backup: false` tables and their partitions); and the relations of the
    /// dumped schemas the policy does not list (tables, views, sequences they own), left out of the backup
    /// altogether and named: they are not Lethe's to back up, and the worker may not even read them (its grants
    /// reach the policy's tables only; pg_dump locks every table it dumps, structure included).
    private func backupTables() throws -> BackupRelations {
        let schemas = Set(policy.tables.map(\.name.schema.name) + ["lethe"])
        let rows = try db.query("""
            SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
                   coalesce(rn.nspname, n.nspname) AS root_schema, coalesce(r.relname, o.relname, c.relname) AS root
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid)
            LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            LEFT JOIN pg_class o ON o.oid = coalesce(pg_partition_root(d.refobjid), d.refobjid)
            LEFT JOIN pg_namespace rn ON rn.oid = coalesce(r.relnamespace, o.relnamespace)
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname = ANY (\(SQLValue.textArray(schemas.sorted()))::text[])
            ORDER BY 1, 2
            """).rows
        var result = BackupRelations()
        for row in rows {
            let name = try QualifiedName(schema: SQLIdentifier(catalog: row.string("schema")), name: SQLIdentifier(catalog: row.string("name")))
            let root = try QualifiedName(schema: SQLIdentifier(catalog: row.string("root_schema")), name: SQLIdentifier(catalog: row.string("root")))
            guard name.schema.name == "lethe" || policy.table(named: root.description) != nil else {
                // A pg_dump pattern: quoted, so case and dots are literal. Partitions and owned sequences follow
                // their table; the report names only what an operator made.
                result.leftOut.append(name.quoted)
                if root == name { result.undeclared.append(name.description) }
                continue
            }
            guard try row.string("kind") == "r" else { continue }
            let data = policy.table(named: root.description).map(\.backup) ?? true
            let count = data ? try db.query("SELECT count(*) AS n FROM \(name)").single("count").int("n") : 0
            result.tables.append(BackupEssentials.Table(name: name.description, rows: count, data: data))
            if !data { result.dataLeftOut.append(name.quoted) }
        }
        return result
    }

    struct BackupRelations {
        var tables: [BackupEssentials.Table] = []
        /// `--exclude-table-data` patterns: the policy's `backup: false` tables (their structure is kept).
        var dataLeftOut: [String] = []
        /// `--exclude-table` patterns: every relation of the dumped schemas the policy does not list.
        var leftOut: [String] = []
        /// The tables and views among those, by name, for the report.
        var undeclared: [String] = []
    }

    static func version(of program: String) throws -> String {
        return try ChildProcess(program, ["--version"], environment: [:], collectingOutput: true).finish().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
