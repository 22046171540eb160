import ArgumentParser
import Foundation
import Policy
import Postgres
import Access

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

    /// Connects and checks, before anything is done, that the user holds the privileges of one of `duties`
    /// (exit 77 naming the role otherwise). `command` names the command in that message.
    func connect(for duties: Duty..., command: String, policy: RetentionPolicy? = nil) throws -> PostgresConnection {
        let db = try connect()
        try AccessCheck(db, policy: policy).require(anyOf: duties, command: command)
        return db
    }
}
