import Foundation
import LetheCore
import Postgres
import Schema

/// A throwaway database on the test server (reached through the PG* environment that `make test`
/// exports), dropped when the test is done.
public final class TestDatabase {
    public let name: String
    public let connection: PostgresConnection

    /// `key=value` conninfo for this database, for the lethe binary and extra connections.
    public var conninfo: String { "dbname=\(name)" }

    public init(migrated: Bool = true, function: String = #function) throws {
        guard ProcessInfo.processInfo.environment["PGHOST"] != nil else {
            throw LetheError.unavailable("integration tests need a PostgreSQL server", hint: "run them with 'make test', which starts one and exports PGHOST/PGPORT/PGUSER")
        }
        name = "lethe_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("CREATE DATABASE \(try SQLIdentifier(name).quoted)")
        connection = try PostgresConnection(conninfo: "dbname=\(name)")
        if migrated { _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: connection) }
    }

    public func newConnection() throws -> PostgresConnection { try PostgresConnection(conninfo: conninfo) }

    deinit {
        guard let admin = try? PostgresConnection(conninfo: "dbname=postgres") else { return }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }
}
