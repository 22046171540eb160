import Foundation
import LetheCore
import Postgres
import Schema

/// A throwaway database on the test server (reached through the PG* environment that `make test`
/// exports), dropped when the test is done. A migrated one is a clone of a template migrated once per
/// server and migration set: cloning copies a few megabytes, where running every migration per test made
/// the server do the same catalog work two hundred times.
public final class TestDatabase {
    public let name: String
    public let connection: PostgresConnection

    /// `key=value` conninfo for this database, for the lethe binary and extra connections.
    public var conninfo: String { "dbname=\(name)" }

    public init(migrated: Bool = true, function: String = #function) throws {
        guard ProcessInfo.processInfo.environment["PGHOST"] != nil else {
            throw LetheError.unavailable("integration tests need a PostgreSQL server", hint: "run them with 'make test', which starts one and exports PGHOST/PGPORT/PGUSER")
        }
        // Named after the test, so the server's statistics (pg_stat_statements, pg_stat_activity) say whose work it is.
        let test = String(function.prefix { $0 != "(" }.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(32))
        name = "lethe_test_\(test)_" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        let template = migrated ? " TEMPLATE \(try SQLIdentifier(try migratedTemplate.value()).quoted)" : ""
        try admin.execute("CREATE DATABASE \(try SQLIdentifier(name).quoted)\(template)")
        connection = try PostgresConnection(conninfo: "dbname=\(name)")
    }

    public func newConnection() throws -> PostgresConnection { try PostgresConnection(conninfo: conninfo) }

    deinit {
        guard let admin = try? PostgresConnection(conninfo: "dbname=postgres") else { return }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }
}

/// The database every migrated `TestDatabase` is cloned from, named by the migrations' checksums so that a
/// server kept across builds never hands out a template of older migrations. Made once: the first caller
/// migrates it under a server-wide advisory lock, later ones (any process) find it.
let migratedTemplate = MadeOnce<String> {
    let set = try MigrationSet.embedded()
    // FNV-1a over the checksums: stable across processes, unlike Hasher.
    let digest = set.migrations.map(\.checksum).joined(separator: ",").utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) {
        ($0 ^ UInt64($1)) &* 0x100_0000_01b3
    }
    let template = "lethe_template_" + String(digest, radix: 16)
    let admin = try PostgresConnection(conninfo: "dbname=postgres")
    try admin.execute("SELECT pg_advisory_lock(7413, 1)")
    defer { _ = try? admin.execute("SELECT pg_advisory_unlock(7413, 1)") }
    let exists = try admin.query("SELECT count(*) AS n FROM pg_database WHERE datname = $1", [.text(template)]).single("template").int("n") > 0
    if !exists {
        // Migrated under a scratch name, renamed when complete: a run killed half-way leaves no half template.
        let scratch = try SQLIdentifier(template + "_making")
        try admin.execute("DROP DATABASE IF EXISTS \(scratch.quoted) WITH (FORCE)")
        try admin.execute("CREATE DATABASE \(scratch.quoted)")
        do {
            let db = try PostgresConnection(conninfo: "dbname=\(scratch.name)")
            _ = try Migrator(set: set).migrate(on: db)
        }
        try admin.execute("ALTER DATABASE \(scratch.quoted) RENAME TO \(try SQLIdentifier(template).quoted)")
    }
    return template
}
