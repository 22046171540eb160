import ArgumentParser
import Audit
import Foundation
import LetheCore

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the hash-chained audit log of purges, exports, erasures, restores and policy changes.",
        subcommands: [AuditVerifyCommand.self, AuditListCommand.self]
    )
}

struct AuditVerifyCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every audit record's hash and link; exit 79 if any was altered or removed.",
        discussion: """
            Prints the number of records and the last hash. Keep that hash elsewhere (ELK, a ticket): the chain \
            proves every record up to its end, but only a hash kept outside the database shows that records were \
            cut from the end. Pass it back with --head on the next verify.

            Examples:
              lethe audit verify --json
              lethe audit verify --head 5f0c…e1   (exit 79 if that record is gone)
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("A last hash printed by an earlier verify: it must still be in the chain.", valueName: "hash")) var head: String?
    @Flag(help: "Print as JSON.") var json = false

    func validate() throws {
        if let head, head.count != 64 || !head.allSatisfy(\.isHexDigit) {
            throw ValidationError("--head takes the 64 hex digits of a hash printed by 'lethe audit verify'")
        }
    }

    func execute() throws {
        let result = try AuditLog.verify(try database.connect(), head: head)
        if json { try Output.json(result) }
        guard result.isIntact else {
            throw LetheError.integrity("audit log broken at record \(result.brokenAt ?? 0): \(result.problem ?? "")",
                                       hint: "compare with the exported audit trail; investigate who wrote to lethe.audit_log")
        }
        if !json { Output.line("audit log intact: \(result.records) records, last hash \(result.lastHash ?? "-")") }
    }
}

struct AuditListCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the most recent audit records.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Option(help: "How many records.") var limit = 20
    @Option(help: ArgumentHelp("Only this action (e.g. purge, hold, retention.set).", valueName: "action")) var action: String?
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let records = try AuditLog.recent(try database.connect(), limit: limit, action: action)
        if json { return try Output.json(records) }
        Output.table(["ID", "AT", "ACTION", "TARGET", "BY", "DETAILS"], records.map {
            ["\($0.id)", Timestamps.iso($0.at), $0.action, $0.target, "\($0.dbUser)/\($0.osUser)", $0.details]
        })
    }
}
