import Access
import ArgumentParser
import Foundation
import LetheCore
import Logging
import Subject
import Jobs

extension RequestRegister.Kind: ExpressibleByArgument {}

struct RequestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "The register of data-subject requests (access, erasure) and their one-month deadlines.",
        discussion: """
            A request is due one month after receipt, or three months once extended with a reason. 'lethe requests check' \
            is meant for cron: it exits 1 and logs a warning for each open request past its due date. References are the \
            DPO's own (a ticket number), never the person's name or number.

            Examples:
              lethe requests open --kind erasure --reference DPO-2026-0114 --received 2026-11-20
              lethe requests check
            """,
        subcommands: [RequestsOpenCommand.self, RequestsListCommand.self, RequestsExtendCommand.self, RequestsCloseCommand.self, RequestsCheckCommand.self]
    )
}

struct RequestsOpenCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "open", abstract: "Record a request received from a person.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Option(help: "access or erasure") var kind: RequestRegister.Kind
    @Option(help: ArgumentHelp("The DPO's reference for it (ticket number).", valueName: "text")) var reference: String
    @Option(help: ArgumentHelp("When it was received: YYYY-MM-DD (UTC) or an ISO-8601 timestamp (default: now).", valueName: "date"))
    var received: String?

    func validate() throws {
        if let received, Timestamps.parseCommandLineDate(received) == nil { throw ValidationError("--received must be YYYY-MM-DD or an ISO-8601 timestamp") }
    }

    func execute() throws {
        let request = try RequestRegister(try database.connect(for: .dpo, command: "requests open")).open(kind: kind, reference: reference, received: received.flatMap { Timestamps.parseCommandLineDate($0) })
        Output.line("request \(request.id) (\(request.kind)) opened, due \(Timestamps.iso(request.dueAt))")
    }
}

struct RequestsListCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List requests with their deadlines.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Only open requests.") var open = false
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let requests = try RequestRegister(try database.connect(for: .dpo, .auditor, command: "requests list")).list(openOnly: open)
        if json { return try Output.json(requests) }
        if requests.isEmpty { return Output.line("no requests") }
        Output.table(["ID", "KIND", "RECEIVED", "DUE", "STATE", "REFERENCE"], requests.map {
            let state = $0.closedAt != nil ? "closed" : $0.overdue ? "OVERDUE" : $0.extended ? "open (extended)" : "open"
            return ["\($0.id)", $0.kind, Timestamps.iso($0.receivedAt), Timestamps.iso($0.dueAt), state, $0.reference]
        })
    }
}

struct RequestsExtendCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "extend", abstract: "Extend a request's deadline to three months after receipt (once).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Request id.") var id: Int64
    @Option(help: ArgumentHelp("Why (complexity, number of requests).", valueName: "text")) var reason: String

    func execute() throws {
        let request = try RequestRegister(try database.connect(for: .dpo, command: "requests extend")).extend(id: id, reason: reason)
        Output.line("request \(request.id) extended, now due \(Timestamps.iso(request.dueAt))")
    }
}

struct RequestsCloseCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "close", abstract: "Close a request that has been answered.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Request id.") var id: Int64

    func execute() throws {
        let request = try RequestRegister(try database.connect(for: .dpo, command: "requests close")).close(id: id)
        Output.line("request \(request.id) closed\(request.closedAt.map { $0 > request.dueAt ? " (after its due date)" : "" } ?? "")")
    }
}

struct RequestsCheckCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Exit 1, with a warning per request, when an open request is past its due date.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var metrics: MetricsFileOption
    @Flag(help: "Print the overdue requests as JSON.") var json = false

    func execute() throws {
        try OneShotJob.guarding(.requestsCheck, database: database, metricsFile: metrics.path) { try executeJob() }
    }

    func executeJob() throws {
        let db = try database.connect(for: .worker, .dpo, command: "requests check")
        // Recorded as a run of the worker's `requests_check` job; overdue requests make it a failed one.
        let overdue = try OneShotJob.run(RequestsCheckJob(), db: db, settings: JobSettings(conninfo: database.conninfo,
                                                                                             policy: nil, metricsFile: metrics.path))
        if json { try Output.json(overdue) } else {
            Output.line(overdue.isEmpty ? "no request is overdue" : "\(overdue.count) request(s) overdue: \(overdue.map { String($0.id) }.joined(separator: ", "))")
        }
        if !overdue.isEmpty {
            throw LetheError(.checkFailed, "\(overdue.count) request(s) past their deadline",
                             hint: "answer and close them ('lethe requests close ID'), or extend one once with its reason ('lethe requests extend ID')")
        }
    }
}
