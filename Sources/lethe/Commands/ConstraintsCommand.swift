import ArgumentParser
import Foundation
import Keys
import LetheCore

struct ConstraintsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "constraints",
        abstract: "Make the database itself refuse unsealed personal values (a CHECK per personal column).",
        subcommands: [ConstraintsApplyCommand.self, ConstraintsCheckCommand.self]
    )
}

struct ConstraintsApplyCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Add, for every personal column, a CHECK that the value is a Lethe envelope (NOT VALID, then validated).",
        discussion: """
            Each personal column of the policy (not those kept in clear, personal_clear) gets CHECK (column IS NULL OR \
            <envelope header>), named lethe_sealed_<column>: added NOT VALID in a short transaction under lock_timeout \
            (retried), then validated by VALIDATE CONSTRAINT, a scan that writers do not wait on. A plain INSERT of a \
            clear-text value by the application's login then fails in PostgreSQL itself (SQLSTATE 23514).

            Refused (exit 78, nothing changed) while any value is not sealed, naming the count per column: seal them \
            with 'lethe encrypt migrate --from plaintext' first. Schedule the worker's encrypt job until every writer \
            seals (lethe serve, or the application through lethe's format): until then the constraint would refuse them.

            Examples:
              lethe constraints apply --dry-run
              lethe constraints apply
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(name: .customLong("dry-run"), help: "Count unsealed values and say what would be added; change nothing.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let db = try database.connect(for: .operator, command: "constraints apply", policy: policy)
        let report = try SealedConstraints(db, policy: policy).apply(dryRun: dryRun) { Terminal.progress($0) }
        if json { return try Output.json(report) }
        for column in report.columns {
            let effect = column.state == .enforced ? (report.validated.contains("\(column.table).\(column.column)") ? "added and validated" : "already enforced")
                : dryRun ? "would add \(column.constraint)" : column.state.rawValue
            Output.line("\(column.table).\(column.column): \(effect)")
        }
        if report.columns.isEmpty { Output.line("the policy declares no sealed personal column") }
    }
}

struct ConstraintsCheckCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List the personal columns and whether the database enforces their sealing; exit 1 if one lacks it.",
        discussion: """
            Examples:
              lethe constraints check
              lethe constraints check --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(help: "Print the columns as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let columns = try SealedConstraints(try database.connect(for: .worker, .operator, command: "constraints check", policy: policy), policy: policy).status()
        if json { try Output.json(columns) } else {
            Output.table(["COLUMN", "CONSTRAINT", "STATE"], columns.map { ["\($0.table).\($0.column)", $0.constraint, $0.state.rawValue] })
        }
        let lacking = columns.filter { $0.state != .enforced }
        if !lacking.isEmpty {
            throw LetheError(.checkFailed, "\(lacking.count) personal column(s) accept values that are not sealed: \(lacking.map { "\($0.table).\($0.column)" }.joined(separator: ", "))",
                             hint: "lethe constraints apply (after 'lethe encrypt migrate' has sealed what is there)")
        }
    }
}
