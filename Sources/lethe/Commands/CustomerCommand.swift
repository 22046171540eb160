import ArgumentParser
import Foundation
import Keys
import LetheCore

struct CustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "Customer-level operations.",
        subcommands: [CustomerShredCommand.self]
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
    @Option(help: ArgumentHelp("Customer id.", valueName: "id")) var customer: Int64
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func execute() throws {
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw LetheError.usage("refusing to shred without confirmation", hint: "add --yes when running from a script")
            }
            FileHandle.standardError.write(Data("This destroys customer \(customer)'s data keys; its sealed data can never be read again.\nType the customer id to confirm: ".utf8))
            guard readLine()?.trimmingCharacters(in: .whitespaces) == String(customer) else {
                throw LetheError.usage("confirmation did not match; nothing was shredded")
            }
        }
        let destroyed = try KeyAdministration(try database.connect()).shred(customer: customer)
        Output.line("customer \(customer): \(destroyed) data key(s) destroyed; its sealed values can no longer be opened")
    }
}
