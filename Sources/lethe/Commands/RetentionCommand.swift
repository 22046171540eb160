import Access
import ArgumentParser
import Foundation
import LetheCore
import Purge

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Shorten a customer's retention period (never beyond six months).",
        subcommands: [RetentionSetCommand.self, RetentionShowCommand.self, RetentionClearCommand.self]
    )
}

struct RetentionSetCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a customer's retention override: a positive ISO-8601 period of at most six months.",
        discussion: """
            The override can only shorten: P7M, P1Y, P182D, zero or negative periods are refused (exit 65). \
            Stored with who set it (database and OS user), when and why, and recorded in the audit log.

            Examples:
              lethe retention set --customer 42 --period P30D --reason "contract 2026-114, clause 7"
              lethe retention set --customer 42 --period P3M --reason "customer request, ticket 8812"
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument
    // .unconditional: a negative period ("-P1M") reaches validation (exit 65) instead of reading as an option.
    @OptionGroup var ledgerOptions: LedgerOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Retention period, e.g. P30D, P3M, P6M.", valueName: "duration")) var period: String
    @Option(help: ArgumentHelp("Why (kept with the override and in the audit log).", valueName: "text")) var reason: String

    func execute() throws {
        let db = try database.connect(for: .dpo, command: "retention"), policy = try policyOptions.load()
        var overrides = RetentionOverrides(db, policy: policy)
        overrides.ledger = try ledgerOptions.ledger()
        let override = try overrides.set(customer: try customer.id(db, policy: policy), period: period, reason: reason)
        Output.line("customer \(override.customerId): retention \(override.period) (set by \(override.setByDbUser)/\(override.setByOsUser))")
    }
}

struct RetentionShowCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show retention overrides (all, or one customer's).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument?
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let overrides = try RetentionOverrides(try database.connect(for: .dpo, command: "retention"), policy: try policyOptions.load()).list(customer: try customer?.offlineId)
        if json { return try Output.json(overrides) }
        if overrides.isEmpty {
            Output.line(customer.map { "customer \($0): no override; the policy's retention applies (at most P6M)" } ?? "no retention overrides; the policy's retention applies (at most P6M)")
            return
        }
        Output.table(["CUSTOMER", "PERIOD", "SET AT", "SET BY", "REASON"], overrides.map {
            ["\($0.customerId)", $0.period, Timestamps.iso($0.setAt), "\($0.setByDbUser)/\($0.setByOsUser)", $0.reason]
        })
    }
}

struct RetentionClearCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove a customer's override; the policy's retention applies again.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @OptionGroup var ledgerOptions: LedgerOptions
    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument

    func execute() throws {
        var overrides = RetentionOverrides(try database.connect(for: .dpo, command: "retention"), policy: try policyOptions.load())
        overrides.ledger = try ledgerOptions.ledger()
        let removed = try overrides.clear(customer: try customer.offlineId)
        Output.line(removed ? "customer \(customer): override removed" : "customer \(customer): had no override")
    }
}
