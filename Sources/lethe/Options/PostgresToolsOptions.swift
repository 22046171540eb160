import ArgumentParser
import Foundation

/// Where pg_dump and pg_restore are, for the commands that run them. Found by the server's major version unless
/// given (see PostgresTools); the flag wins over LETHE_PG_BINDIR.
struct PostgresToolsOptions: ParsableArguments {
    @Option(name: .customLong("pg-bindir"),
            help: ArgumentHelp("Directory of pg_dump and pg_restore (default: LETHE_PG_BINDIR, then /usr/lib/postgresql/MAJOR/bin for the server's major version, pg_config --bindir, PATH).",
                               valueName: "dir"))
    var bindir: String?

    /// Hands the choice to PostgresTools, which every caller (command or worker job) asks.
    func export() {
        if let bindir { setenv("LETHE_PG_BINDIR", bindir, 1) }
    }
}
