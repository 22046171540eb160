import ArgumentParser
import Foundation
import Postgres

/// Where the database is. Without either option libpq's defaults apply, exactly as for psql.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: ArgumentHelp("PostgreSQL URL or key=value conninfo (default: LETHE_DATABASE_URL, then PG* environment and .pgpass).", valueName: "url"))
    var databaseURL: String?

    var conninfo: String? {
        databaseURL ?? ProcessInfo.processInfo.environment["LETHE_DATABASE_URL"]
    }

    func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo)
    }
}
