import Access
import ArgumentParser
import Foundation
import Keys
import Ledger
import LetheCore
import Schema
import Subject

struct CustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "Customer-level operations.",
        subcommands: [CustomerExportCommand.self, CustomerShredCommand.self, CustomerListCommand.self]
    )
}

struct CustomerShredCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "shred",
        abstract: "Destroy a customer's data keys: all its sealed data becomes unreadable, everywhere. Irreversible.",
        discussion: "Asks you to type the customer id unless --yes is given (required when stdin is not a terminal)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var ledgerOptions: LedgerOptions
    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func execute() throws {
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw LetheError.usage("refusing to shred without confirmation", hint: "add --yes when running from a script")
            }
            FileHandle.standardError.write(Data("This destroys customer \(customer)'s data keys; its sealed data can never be read again.\nType the customer id to confirm: ".utf8))
            guard readLine()?.trimmingCharacters(in: .whitespaces) == customer.description else {
                throw LetheError.usage("confirmation did not match; nothing was shredded")
            }
        }
        let db = try database.connect(for: .dpo, command: "customer shred"), policy = try policyOptions.load()
        let ledger = try ledgerOptions.ledger()
        if ledger == nil { LedgerOptions.warnUnrecorded("shred") }
        let shredded = try KeyAdministration(db, ledger: ledger).shred(customer: try customer.id(db, policy: policy), policy: policy)
        Output.line("customer \(customer): \(shredded.keys) data key(s) destroyed; its sealed values can no longer be opened; "
                    + "\(shredded.blindIndexes) blind-index value(s) removed")
    }
}

struct CustomerExportCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a customer's account data (contacts, templates, messages, delivery reports) as JSON, for portability.",
        discussion: """
            Writes DIR/customer-<id>.json (mode 0600; refuses to overwrite) from one consistent snapshot, personal columns \
            decrypted, streamed table by table so memory stays flat. Only counts are printed.

            Example:
              lethe customer export --customer 42 --out /secure/exports
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @Option(help: ArgumentHelp("Customer id, or an account name (customer_type: text).", valueName: "id|name")) var customer: CustomerArgument
    @Option(help: ArgumentHelp("Directory to write into (created 0700 if missing).", valueName: "dir")) var out: String
    @Flag(help: "Print the report as JSON.") var json = false

    func execute() throws {
        let db = try database.connect(for: .dpo, command: "customer export"), policy = try policyOptions.load()
        let report = try CustomerExport(db: db, policy: policy, keyring: try keyring.load())
            .run(customer: try customer.id(db, policy: policy), directory: out)
        if json { return try Output.json(report) }
        Output.line("customer \(customer): exported \(report.rows.values.reduce(0, +)) row(s)")
        Output.table(["TABLE", "ROWS"], report.rows.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] })
        if report.unreadableValues > 0 { Terminal.warn("\(report.unreadableValues) value(s) could not be opened (shredded key or altered value)") }
        Output.line("wrote \(report.file)")
    }
}

struct CustomerListCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the customers Lethe has acted on (overrides, holds, exports), with the names text customer columns give them.",
        discussion: """
            A customer named by a text column (customer_type: text) is keyed by lethe.customer_id(name), an id in \
            [2^62, 2^63); this list maps those ids back to the names. Customers are known from the data: one is noted \
            here the first time a command finds it in a policy table.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(help: "Print as JSON.") var json = false

    struct Entry: Encodable {
        let id: Int64
        let name: String?
        let firstSeen: String
    }

    func execute() throws {
        let known = try CustomerDirectory(try database.connect(for: .dpo, command: "customer list"), policy: try policyOptions.load()).known()
        let entries = known.map { Entry(id: $0.id, name: $0.name, firstSeen: Timestamps.iso($0.firstSeen)) }
        if json { return try Output.json(entries) }
        if entries.isEmpty { return Output.line("no customer noted yet") }
        Output.table(["ID", "NAME", "FIRST SEEN"], entries.map { ["\($0.id)", $0.name ?? "", $0.firstSeen] })
    }
}
