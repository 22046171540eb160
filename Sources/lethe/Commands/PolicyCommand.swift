import ArgumentParser
import Foundation
import LetheCore
import Policy
import Postgres
import Schema

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Inspect and validate retention policies.",
        subcommands: [PolicyCheckCommand.self]
    )
}

struct PolicyCheckCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy file, and check it against the database when one is reachable.",
        discussion: """
            Refuses unknown keys, unparseable durations and any retention above the 6-month ceiling (P6M). \
            Each problem is printed as FILE:LINE: KEY.PATH: MESSAGE. Exit 65 when there is any.

            Examples:
              lethe policy check
              lethe policy check Policies/custom.yaml --offline
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Argument(help: ArgumentHelp("Policy file to check (default: --policy, LETHE_POLICY, Policies/default.yaml).", valueName: "file"))
    var file: String?

    @Flag(help: "Do not connect to the database; check the file alone.")
    var offline = false

    func execute() throws {
        let path = file ?? policyOptions.path
        let policy = try file.map { try PolicyLoader.load(path: $0) } ?? policyOptions.load()
        let summary = "\(path): valid (\(policy.tables.count) tables, \(policy.retentionTables.count) under retention, ceiling P6M)"
        guard !offline else {
            Output.line(summary)
            return
        }
        let db: PostgresConnection
        do {
            db = try database.connect()
        } catch let error as LetheError where error.code == .unavailable {
            Output.line(summary)
            Terminal.warn("database not reachable: tables and columns were not checked (\(error.message))")
            return
        }
        let problems = try PolicyDatabaseCheck().problems(policy, db: db)
        guard problems.isEmpty else {
            throw LetheError.dataError(problems.joined(separator: "\n"), hint: "fix the policy or migrate the database ('lethe migrate')")
        }
        // pg_partman beside Lethe: warnings, not errors (the policy is valid; the database's other tool needs a change).
        let partman = try PgPartman(db)
        for table in policy.tables {
            if partman.manages(table.name) != nil, table.partitioning?.create ?? true {
                Terminal.warn("\(table.name): pg_partman manages its partitions (part_config), so Lethe creates none; HINT: say so with partitioning: { create: false }")
            }
            for problem in try partman.retentionProblems(table, db: db) { Terminal.warn("\(problem.what); HINT: \(problem.hint)") }
        }
        let undeclared = try PolicyDatabaseCheck().undeclaredTables(policy, db: db)
        if !undeclared.isEmpty {
            Terminal.warn("tables in the policy's schemas that the policy does not list (never purged, not backed up, out of the duty roles' reach): "
                          + undeclared.map(\.name.description).joined(separator: ", ")
                          + "; HINT: declare each in the policy with its retention (backup: false keeps only its structure), or move it out of these schemas")
        }
        Output.line("\(summary); matches database \(db.target.database)")
    }
}
