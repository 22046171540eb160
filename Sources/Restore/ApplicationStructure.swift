import Backup
import Foundation
import LetheCore
import Postgres

/// The structure of the policy's tables that Lethe's migrations do not create (an adopted application's own
/// tables, in `public` or any schema), copied from the live database, never from the archive: a restore takes
/// only data from a backup, so a forged archive brings rows, never code. The live database is what the operator
/// runs and trusts; its catalog gives the tables as the application has them today (issue 30, defect 4: such a
/// restore failed, after `--dry-run` said it would work).
///
/// Taken: tables, their sequences and defaults, indexes and constraints (`pg_dump --schema-only` of those tables,
/// filtered by its table of contents). Left out: triggers, rules, row security policies, comments, owners and
/// grants, which belong to the application's deployment and may call its functions.
struct ApplicationStructure {
    let liveConninfo: String?
    let liveServerVersion: String

    /// Table-of-contents entry types that are structure of the tables themselves.
    static let kept = ["TABLE", "SEQUENCE", "SEQUENCE OWNED BY", "DEFAULT", "INDEX", "CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT"]

    /// The settings a pg_dump script sets for its session, put back after it so the rest of the restore runs as before.
    static let scriptSettings = ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "client_encoding",
                                 "standard_conforming_strings", "search_path", "check_function_bodies", "xmloption", "client_min_messages",
                                 "row_security", "default_tablespace", "default_table_access_method"]

    /// The DDL script for `tables`, from the live database.
    func script(for tables: [QualifiedName]) throws -> String {
        let tools = try PostgresTools.find(serverVersion: liveServerVersion)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-structure-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/structure.dump", list = directory + "/structure.list"
        let connection = try ChildConnection(conninfo: liveConninfo, applicationName: "lethe restore")
        try run(tools.pgDump, ["--schema-only", "--format=custom", "--no-owner", "--no-privileges", "--no-comments", "--file=\(archive)",
                               "--dbname=\(connection.connectionString)"] + tables.map { "--table=\($0.quoted)" },
                environment: connection.environment, doing: "reading the application's tables from the live database")
        let entries = try run(tools.pgRestore, ["--list", archive], environment: [:], doing: "listing the live tables' structure")
        let keptEntries = entries.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            guard !line.hasPrefix(";"), let separator = line.range(of: "; ") else { return false }
            // `215; 1259 16390 TABLE public sent_log owner`: the type follows the entry's two catalog numbers.
            let fields = line[separator.upperBound...].split(separator: " ", maxSplits: 2)
            guard fields.count == 3 else { return false }
            return Self.kept.contains { fields[2].hasPrefix($0 + " ") }
        }
        try (keptEntries.joined(separator: "\n") + "\n").write(toFile: list, atomically: false, encoding: .utf8)
        let script = try run(tools.pgRestore, ["--use-list=\(list)", "--file=-", archive], environment: [:], doing: "writing the live tables' structure")
        // Newer pg_dump brackets its script with psql's `\restrict KEY` / `\unrestrict KEY` (CVE-2025-8714), which
        // only psql reads; no other meta-command belongs in a structure script.
        return try script.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            guard line.hasPrefix("\\") else { return true }
            guard line.hasPrefix("\\restrict ") || line.hasPrefix("\\unrestrict ") else {
                throw LetheError.software("pg_restore wrote a psql meta-command Lethe does not run: \(line.prefix(20))")
            }
            return false
        }.joined(separator: "\n")
    }

    /// Runs the script in the target's open transaction, then puts back the session settings it changed.
    func apply(_ script: String, to target: PostgresConnection, schemas: Set<SQLIdentifier>) throws {
        let saved = try target.query("SELECT n, current_setting(n) AS v FROM unnest(\(.textArray(Self.scriptSettings))::text[]) AS n")
            .rows.map { (try $0.string("n"), try $0.string("v")) }
        for schema in schemas.sorted() { try target.execute("CREATE SCHEMA IF NOT EXISTS \(schema)") }
        // pg_dump's own text, of the live database's catalog (see above), run as is.
        try target.executeScript(SQL(unsafeRaw: script))
        for (name, value) in saved { _ = try target.query("SELECT set_config(\(.text(name)), \(.text(value)), false)") }
    }

    @discardableResult
    private func run(_ program: String, _ arguments: [String], environment: [String: String], doing what: String) throws -> String {
        let child = try ChildProcess(program, arguments, environment: environment, collectingOutput: true)
        let (status, stderr, stdout) = child.finish()
        guard status == 0 else {
            throw LetheError.unavailable("\(what) failed (\(URL(fileURLWithPath: program).lastPathComponent) exit \(status)): \(ChildProcess.summary(stderr))",
                                         hint: "check that the live database (--database-url) is reachable and holds the policy's tables; nothing was restored")
        }
        return stdout
    }
}
