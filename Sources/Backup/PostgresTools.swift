import Foundation
import LetheCore
import Postgres

/// Where `pg_dump` and `pg_restore` are: the one place that finds them. A dump is read by a `pg_restore` at least
/// as new as the `pg_dump` that wrote it, and `pg_dump` must be at least the server's version, so the tools are
/// looked for by the server's major version: `LETHE_PG_BINDIR` (an operator's choice wins), Debian's
/// `/usr/lib/postgresql/MAJOR/bin`, then `pg_config --bindir`, then `PATH`.
public struct PostgresTools: Sendable {
    public let directory: String
    public var pgDump: String { directory + "/pg_dump" }
    public var pgRestore: String { directory + "/pg_restore" }

    public static func find(major: Int, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresTools {
        if let given = environment["LETHE_PG_BINDIR"], !given.isEmpty {
            guard usable(given) else {
                throw LetheError.unavailable("LETHE_PG_BINDIR is \(given), which has no executable pg_dump and pg_restore",
                                             hint: "point LETHE_PG_BINDIR at the bin directory of PostgreSQL \(major)'s client programs")
            }
            return PostgresTools(directory: given)
        }
        var candidates = ["/usr/lib/postgresql/\(major)/bin"]
        if let bindir = pgConfigBindir() { candidates.append(bindir) }
        candidates += (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        guard let directory = candidates.first(where: usable) else {
            throw LetheError.unavailable("pg_dump and pg_restore for PostgreSQL \(major) not found (looked in \(candidates.joined(separator: ", ")))",
                                         hint: "install PostgreSQL \(major)'s client programs (Debian: postgresql-client-\(major)), or set LETHE_PG_BINDIR")
        }
        return PostgresTools(directory: directory)
    }

    /// For the server `db` is connected to.
    public static func find(for db: PostgresConnection) throws -> PostgresTools {
        let number = try db.query("SELECT current_setting('server_version_num')::int AS n").single("server_version_num").int("n")
        return try find(major: Int(number / 10000))
    }

    /// For a backup made from a server of `serverVersion` ("15.8"): verify and restore need no database to read it.
    public static func find(serverVersion: String) throws -> PostgresTools {
        try find(major: Int(serverVersion.prefix { $0.isNumber }) ?? 15)
    }

    private static func usable(_ directory: String) -> Bool {
        ["pg_dump", "pg_restore"].allSatisfy { FileManager.default.isExecutableFile(atPath: directory + "/" + $0) }
    }

    private static func pgConfigBindir() -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/pg_config"),
              let output = try? ChildProcess("/usr/bin/pg_config", ["--bindir"], environment: [:], collectingOutput: true).finish(),
              output.status == 0 else { return nil }
        let directory = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return directory.isEmpty ? nil : directory
    }
}
