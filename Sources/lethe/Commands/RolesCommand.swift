import Access
import ArgumentParser
import Foundation
import LetheCore

struct RolesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles",
        abstract: "Create the duty roles (worker, DPO, operator, auditor) and their grants; show what the current user may do.",
        discussion: """
            Four NOLOGIN roles, each with exactly what its duty needs:
              lethe_worker    purge, partitions, backup, inspect, requests check, status; owns no table, holds no key:
                              partitions and rows leave only through SECURITY DEFINER functions that recompute the
                              retention rules in the database and refuse anything younger or held
              lethe_dpo       requests, subject export and erase, customer export, retention overrides, legal holds
              lethe_operator  migrate, restore, keys, roles, import, encrypt
              lethe_auditor   audit log, purge ledger, job runs, request register; no application data
            A DBA gives a duty to a login user:  GRANT lethe_dpo TO alice;
            Rerun 'lethe roles apply' after 'lethe migrate' adds tables, and whenever the policy's retention changes
            (it records the policy's purge rules, which the worker's deletes are checked against).
            """,
        subcommands: [RolesApplyCommand.self, RolesCheckCommand.self]
    )
}

struct RolesApplyCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create the roles and make their grants exactly the design's (idempotent; one transaction).",
        discussion: """
            Run as the owner of Lethe's and the application's tables (CREATEROLE is needed the first time), or a superuser.

            Examples:
              lethe roles apply --dry-run      # print the statements
              lethe roles apply
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(name: .customLong("dry-run"), help: "Print the statements; change nothing.") var dryRun = false
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let db = try database.connect(for: .operator, command: "roles apply", policy: policy)
        let report = try RolesApply(db, policy: policy).run(dryRun: dryRun)
        if json { return try Output.json(report) }
        if dryRun {
            for statement in report.statements { Output.line(statement + ";") }
            return
        }
        Output.line(report.rolesCreated.isEmpty ? "roles present; grants applied (\(report.statements.count) statements)"
                    : "created \(report.rolesCreated.joined(separator: ", ")); grants applied (\(report.statements.count) statements)")
        Output.line("purge rules recorded: " + report.purgeRules.map { "\($0.table) \($0.retention)" }.joined(separator: ", "))
        Output.line("give duties to login users, e.g.: GRANT lethe_worker TO lethe_worker_host;")
    }
}

struct RolesCheckCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List the duties the current user can perform and, for the others, what is missing.",
        discussion: """
            Exit 0 when Lethe's schema is as its migrations and 'roles apply' made it, whatever duties the user has;
            exit 1 when a trigger, rule or row-level policy sits on a lethe.* table (the migrations make none) or a
            duty role holds TRIGGER, REFERENCES or TRUNCATE there: each runs code as the owner of the guarded
            functions. Example: lethe roles check --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let report = try AccessCheck(try database.connect(), policy: try policyOptions.load()).report()
        if json {
            try Output.json(report)
            return try Self.refuseUnsafe(report)
        }
        Output.line("user \(report.user)\(report.superuser ? " (superuser)" : "")")
        Output.table(["DUTY", "ROLE", "MEMBER", "CAN", "MISSING"], report.duties.map {
            [$0.duty.rawValue, $0.roleExists ? $0.role : "\($0.role) (not created)", $0.member ? "yes" : "no", $0.permitted ? "yes" : "no",
             $0.missing.isEmpty ? "-" : $0.missing.prefix(3).joined(separator: "; ") + ($0.missing.count > 3 ? "; … (\($0.missing.count))" : "")]
        })
        for line in report.unsafe { Output.line("UNSAFE: \(line)") }
        try Self.refuseUnsafe(report)
    }

    static func refuseUnsafe(_ report: AccessCheck.Report) throws {
        guard let first = report.unsafe.first else { return }
        throw LetheError(.checkFailed, "\(report.unsafe.count) object(s) or privilege(s) on schema lethe that Lethe did not make: \(first)",
                         hint: "drop what is not yours (DROP TRIGGER … ON …) and rerun 'lethe roles apply', which revokes the privileges")
    }
}
