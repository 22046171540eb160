import Access
import ArgumentParser
import Foundation
import LetheCore
import Purge

struct HoldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Place, release and list legal holds: a held customer keeps every row while the hold lasts.",
        subcommands: [HoldAddCommand.self, HoldReleaseCommand.self, HoldListCommand.self]
    )
}

struct HoldAddCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Place a legal hold on a customer.",
        discussion: """
            --until takes YYYY-MM-DD (the hold lasts through that day, UTC) or an ISO-8601 timestamp.
            Without it the hold lasts until released.

            Example:
              lethe hold add --customer 42 --reason "court order 2026/1187" --until 2027-06-30
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument
    @Option(help: ArgumentHelp("Why (case, authority request).", valueName: "text")) var reason: String
    @Option(help: ArgumentHelp("End of the hold: YYYY-MM-DD (inclusive) or an ISO-8601 timestamp.", valueName: "date")) var until: String?

    func validate() throws {
        if let until, Timestamps.parseCommandLineDate(until, dayEnd: true) == nil {
            throw ValidationError("--until must be YYYY-MM-DD or an ISO-8601 timestamp such as 2027-06-30T12:00:00Z")
        }
    }

    func execute() throws {
        let db = try database.connect(for: .dpo, command: "hold"), policy = try policyOptions.load()
        let hold = try LegalHolds(db, policy: policy)
            .add(customer: try customer.id(db, policy: policy), reason: reason, until: until.flatMap { Timestamps.parseCommandLineDate($0, dayEnd: true) })
        Output.line("hold \(hold.id) placed on customer \(hold.customerId)\(hold.until.map { " until \(Timestamps.iso($0))" } ?? " until released")")
    }
}

struct HoldReleaseCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "release", abstract: "Release a customer's legal hold.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @OptionGroup var ledgerOptions: LedgerOptions
    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument

    func execute() throws {
        let db = try database.connect(for: .dpo, command: "hold"), policy = try policyOptions.load()
        var holds = LegalHolds(db, policy: policy)
        holds.ledger = try ledgerOptions.ledger()
        let hold = try holds.release(customer: try customer.id(db, policy: policy))
        Output.line("hold \(hold.id) on customer \(hold.customerId) released; the next purge applies its retention")
    }
}

struct HoldListCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List open legal holds (--all for released ones too).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Flag(help: "Include released holds.") var all = false
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let holds = try LegalHolds(try database.connect(for: .dpo, command: "hold"), policy: try policyOptions.load()).list(all: all)
        if json { return try Output.json(holds) }
        if holds.isEmpty { return Output.line("no legal holds") }
        Output.table(["HOLD", "CUSTOMER", "STATE", "UNTIL", "PLACED", "BY", "REASON"], holds.map {
            ["\($0.id)", "\($0.customerId)", $0.active ? "active" : ($0.releasedAt == nil ? "expired" : "released"),
             $0.until.map(Timestamps.iso) ?? "-", Timestamps.iso($0.placedAt), "\($0.placedByDbUser)/\($0.placedByOsUser)", $0.reason]
        })
    }
}
