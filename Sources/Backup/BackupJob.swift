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
        let (tables, excluded) = try backupTables()
        let essentials = BackupEssentials(id: id, createdAt: started, database: db.target.database, tables: tables,
                                          serverVersion: serverVersion, pgDumpVersion: pgDumpVersion,
                                          policyHash: try SHA256.hex(policy.sourceBytes), compression: "zstd")
        let schemas = Set(policy.tables.map(\.name.schema.name) + ["lethe"]).sorted()
        var arguments = ["--format=custom", "--compress=0", "--no-owner", "--snapshot=\(snapshot)"]
        arguments += schemas.map { "--schema=\($0)" }
        arguments += excluded.map { "--exclude-table-data=\($0)" }
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
            manifest.signer = signingKey?.signer.fingerprint
            let encoder = BackupEssentials.encoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try SecureFile.replace(repository.manifestPath(id), contents: Array(try encoder.encode(manifest)) + [0x0A])
            _ = try? db.execute("ROLLBACK")
            try AuditLog.append(db, action: "backup", target: "backup \(id)", details: [
                "size": .int(Int64(size)), "sha256": .string(sha), "tables": .int(Int64(tables.count)),
                "signed_by": signingKey.map { .string($0.signer.fingerprint) } ?? .null,
            ])
            return manifest
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Leaf tables of every schema that is backed up, with their row counts in the snapshot, and the tables
    /// whose data stays out (the policy's `backup: false` tables and their partitions).
    private func backupTables() throws -> ([BackupEssentials.Table], [String]) {
        let schemas = Set(policy.tables.map(\.name.schema.name) + ["lethe"])
        let rows = try db.query("""
            SELECT n.nspname AS schema, c.relname AS name, coalesce(p.relname, c.relname) AS root
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
            WHERE c.relkind = 'r' AND n.nspname = ANY (\(SQLValue.textArray(schemas.sorted()))::text[]) ORDER BY 1, 2
            """).rows
        var tables: [BackupEssentials.Table] = [], excluded: [String] = []
        for row in rows {
            let name = try QualifiedName(schema: SQLIdentifier(catalog: row.string("schema")), name: SQLIdentifier(catalog: row.string("name")))
            let root = try QualifiedName(schema: name.schema, name: SQLIdentifier(catalog: row.string("root")))
            let data = policy.table(named: root.description).map(\.backup) ?? (name.schema.name == "lethe")
            let count = data ? try db.query("SELECT count(*) AS n FROM \(name)").single("count").int("n") : 0
            tables.append(BackupEssentials.Table(name: name.description, rows: count, data: data))
            if !data { excluded.append(name.quoted) }  // a pg_dump pattern: quoted, so case and dots are literal
        }
        return (tables, excluded)
    }

    static func version(of program: String) throws -> String {
        return try ChildProcess(program, ["--version"], environment: [:], collectingOutput: true).finish().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
