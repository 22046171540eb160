import Foundation
import LetheCore
import Postgres
import Schema
import TestSupport
import Testing

@Suite struct MigratorTests {
    @Test func migratingAnEmptyDatabaseCreatesBothSchemas() throws {
        let db = try TestDatabase(migrated: false)
        let report = try Migrator(set: try MigrationSet.embedded()).migrate(on: db.connection)
        let known = try MigrationSet.embedded().migrations.map(\.version)
        #expect(known.starts(with: [1, 2, 3, 4]))
        #expect(report.applied.map(\.version) == known)
        let schemas = try db.connection.query("SELECT nspname FROM pg_namespace WHERE nspname IN ('lethe', 'sms') ORDER BY 1").rows.map { try $0.string("nspname") }
        #expect(schemas == ["lethe", "sms"])
        let again = try Migrator(set: try MigrationSet.embedded()).migrate(on: db.connection)
        #expect(again.applied.isEmpty)
        #expect(again.entries.allSatisfy { $0.state == .applied })
    }

    @Test func embeddedMigrationsMatchTheFiles() throws {
        let root = LetheProcess.packageRoot.appendingPathComponent("Migrations").path
        let fromFiles = try MigrationSet.directory(root).migrations
        let embedded = try MigrationSet.embedded().migrations
        #expect(fromFiles.map(\.checksum) == embedded.map(\.checksum))
        #expect(fromFiles.map(\.fileName) == embedded.map(\.fileName))
    }

    @Test func refusesAnEditedAppliedMigration() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try copyOfMigrations()
        _ = try Migrator(set: try MigrationSet.directory(directory)).migrate(on: db.connection)
        let file = (directory as NSString).appendingPathComponent("0002_sms_schema.sql")
        try (try String(contentsOfFile: file, encoding: .utf8) + "\n-- edited\n").write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try Migrator(set: try MigrationSet.directory(directory)).migrate(on: db.connection)
            Issue.record("expected a refusal")
        } catch let error as LetheError {
            #expect(error.code == .config)
            #expect(error.message.contains("0002_sms_schema.sql has changed since it was applied"))
        }
    }

    @Test func refusesAVersionItDoesNotKnow() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO lethe.schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
        do {
            _ = try Migrator(set: try MigrationSet.embedded()).status(on: db.connection)
            Issue.record("expected a refusal")
        } catch let error as LetheError {
            #expect(error.code == .config)
            #expect(error.message.contains("9999_future"))
        }
    }

    @Test func aFailingMigrationLeavesNoTrace() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try copyOfMigrations()
        try "CREATE TABLE lethe.half_done (id int);\nSELECT no_such_function();\n"
            .write(toFile: (directory as NSString).appendingPathComponent("0900_broken.sql"), atomically: true, encoding: .utf8)
        #expect(throws: PostgresError.self) { try Migrator(set: try MigrationSet.directory(directory)).migrate(on: db.connection) }
        #expect(try db.connection.query("SELECT to_regclass('lethe.half_done') IS NULL AS gone").single("check").bool("gone"))
        let versions = try db.connection.query("SELECT version FROM lethe.schema_migrations ORDER BY 1").rows.map { try $0.int("version") }
        #expect(versions == (try MigrationSet.embedded().migrations.map { Int64($0.version) }))
    }

    @Test func refusesMisnamedFiles() {
        #expect(throws: LetheError.self) { try Migration(fileName: "12_x.sql", sql: "") }
        #expect(throws: LetheError.self) { try Migration(fileName: "0001.sql", sql: "") }
    }
}

/// A writable copy of Migrations/ in a temp directory.
func copyOfMigrations() throws -> String {
    let directory = try IntakeFixture.directory(prefix: "lethe-migrations") + "/Migrations"
    try FileManager.default.copyItem(atPath: LetheProcess.packageRoot.appendingPathComponent("Migrations").path, toPath: directory)
    return directory
}
