import Foundation
import LetheCore
import LetheCrypto

/// One `Migrations/NNNN_name.sql` file.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let fileName: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex.
    public let checksum: String

    /// The reference SMS schema (`sms.*`, 0002): applied only for a policy that uses it; every other migration is
    /// Lethe's own `lethe` schema, applied always.
    public var isReferenceSchema: Bool { name == "sms_schema" }

    public init(fileName: String, sql: String) throws(LetheError) {
        let stem = fileName.hasSuffix(".sql") ? String(fileName.dropLast(4)) : fileName
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), version > 0, !parts[1].isEmpty else {
            throw .config("migration file name '\(fileName)' is not NNNN_name.sql", hint: "name migrations like 0003_purge_ledger.sql")
        }
        self.version = version
        self.name = String(parts[1])
        self.fileName = fileName
        self.sql = sql
        self.checksum = try SHA256.hex(Array(sql.utf8))
    }
}

/// The set of migrations this binary knows: embedded at build time, or read from a directory.
public struct MigrationSet: Sendable {
    public let migrations: [Migration]
    /// Where they came from, for messages ("Migrations/" or the directory given).
    public let origin: String

    public init(migrations: [Migration], origin: String) throws(LetheError) {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw .config("two migrations share version \(next.version): \(previous.fileName) and \(next.fileName)")
        }
        self.migrations = sorted
        self.origin = origin
    }

    /// The migrations compiled into this binary from Migrations/*.sql.
    public static func embedded() throws(LetheError) -> MigrationSet {
        var migrations: [Migration] = []
        for file in embeddedMigrationFiles { migrations.append(try Migration(fileName: file.name, sql: file.sql)) }
        return try MigrationSet(migrations: migrations, origin: "Migrations/")
    }

    /// Every `*.sql` file in `directory`.
    public static func directory(_ directory: String) throws(LetheError) -> MigrationSet {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        } catch {
            throw .noInput("cannot list migrations directory \(directory)", hint: "check --migrations-dir / LETHE_MIGRATIONS_DIR")
        }
        var migrations: [Migration] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { throw .noInput("cannot read migration \(path)") }
            migrations.append(try Migration(fileName: name, sql: String(decoding: data, as: UTF8.self)))
        }
        let origin = directory.hasSuffix("/") ? directory : directory + "/"
        return try MigrationSet(migrations: migrations, origin: origin)
    }
}
