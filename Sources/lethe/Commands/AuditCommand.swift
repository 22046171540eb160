import Access
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
            Prints the number of records and the head, ID:HASH of the last record. Every job's final log line \
            carries the head too (lethe.audit.head_id, lethe.audit.head_hash), so the log store keeps copies the \
            database's writers cannot reach. The chain alone proves every record links to the one before; only a \
            head kept outside the database shows that records were cut from the end, or that history was \
            rewritten and the chain recomputed. Pass one back with --head (repeatable).

            Examples:
              lethe audit verify --json
              lethe audit verify --head 1042:5f0c…e1   (exit 79 if record 1042 is gone or no longer has that hash)
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Option(help: ArgumentHelp("A head (ID:HASH) from a job's log line or an earlier verify: that record must still carry that hash (repeatable; a bare HASH is also accepted).", valueName: "id:hash"))
    var head: [String] = []
    @Flag(help: "Print as JSON.") var json = false

    func validate() throws {
        for head in head where AuditLog.Head(parsing: head) == nil {
            throw ValidationError("--head takes ID:HASH (a record id, a colon, 64 hex digits) as 'lethe audit verify' and job log lines print it; got '\(head.prefix(80))'")
        }
    }

    func execute() throws {
        let db = try database.connect(for: .auditor, .operator, command: "audit verify")
        let result = try AuditLog.verify(db, heads: head.compactMap(AuditLog.Head.init(parsing:)))
        if json { try Output.json(result) }
        guard result.isIntact else {
            throw LetheError.integrity("audit log broken at record \(result.brokenAt ?? 0): \(result.problem ?? "")",
                                       hint: "compare with the exported audit trail; investigate who wrote to lethe.audit_log")
        }
        if !json {
            Output.line("audit log intact: \(result.records) records, head \(result.lastId.map { "\($0):\(result.lastHash ?? "")" } ?? "-")"
                        + (head.isEmpty ? "" : "; \(head.count) head(s) kept outside the database still in the chain"))
        }
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
        let records = try AuditLog.recent(try database.connect(for: .auditor, .operator, command: "audit list"), limit: limit, action: action)
        if json { return try Output.json(records) }
        Output.table(["ID", "AT", "ACTION", "TARGET", "BY", "DETAILS"], records.map {
            ["\($0.id)", Timestamps.iso($0.at), $0.action, $0.target, "\($0.dbUser)/\($0.osUser)", $0.details]
        })
    }
}
