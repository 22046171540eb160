import ArgumentParser
import Foundation
import LetheCore
import Schema

struct PartitionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partitions",
        abstract: "Manage the monthly partitions of partitioned policy tables.",
        subcommands: [PartitionsEnsureCommand.self, PartitionsListCommand.self]
    )
}

struct PartitionsEnsureCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensure",
        abstract: "Create monthly partitions from the current month (or --from) to N months ahead.",
        discussion: """
            Months are UTC calendar months; the current month is the database clock's. A row whose month has no
            partition is refused by PostgreSQL ("no partition of relation ... found for row"), never lost:
            run this ahead of time (lethe purge does it on every run) or with --from for backfills.

            Examples:
              lethe partitions ensure
              lethe partitions ensure --months-ahead 6
              lethe partitions ensure --from 2025-11 --dry-run
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(name: .customLong("months-ahead"), help: "Months after the current one to create.")
    var monthsAhead = 3

    @Option(help: ArgumentHelp("Also create every month from this one (YYYY-MM) up to now.", valueName: "YYYY-MM"))
    var from: String?

    @Flag(name: .customLong("dry-run"), help: "Print the partitions that would be created; create none.")
    var dryRun = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (0...120).contains(monthsAhead) else { throw ValidationError("--months-ahead must be between 0 and 120") }
        if let from, Month(parsing: from) == nil { throw ValidationError("--from must be a month written YYYY-MM, e.g. 2025-11") }
    }

    func execute() throws {
        let policy = try policyOptions.load()
        let db = try database.connect()
        let now = try DatabaseClock.now(db)
        let current = Month(containing: now)
        let first = min(from.flatMap(Month.init(parsing:)) ?? current, current)
        let months = Month.range(first, through: current.adding(months: monthsAhead))
        let report = try PartitionCatalog().ensure(db, policy: policy, months: months, dryRun: dryRun)
        if json {
            try Output.json(EnsureJSON(dryRun: dryRun, created: report.created.map(\.description),
                                       alreadyPresent: report.alreadyPresent, conflicts: report.conflicts,
                                       months: months.map(\.description)))
        } else {
            let verb = dryRun ? "would create" : "created"
            report.created.forEach { Output.line("\(verb) \($0)") }
            Output.line("\(report.created.count) partition(s) \(verb), \(report.alreadyPresent) already present, months \(first) to \(months.last!)")
        }
        for conflict in report.conflicts { Terminal.warn(conflict) }
        if !report.conflicts.isEmpty {
            throw LetheError.config("\(report.conflicts.count) month(s) overlap partitions with other bounds",
                                    hint: "Lethe creates calendar-month partitions; merge or rename the conflicting ones")
        }
    }
}

private struct EnsureJSON: Encodable {
    let dryRun: Bool
    let created: [String]
    let alreadyPresent: Int
    let conflicts: [String]
    let months: [String]
}

struct PartitionsListCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the partitions of every partitioned policy table with their bounds."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Flag(help: "Print the list as JSON.")
    var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let db = try database.connect()
        let tables = try PartitionCatalog().partitionedTables(db, policy: policy)
        let rows = tables.flatMap { table in table.partitions.map { partition in
            PartitionJSON(table: table.table.name.description, partition: partition.name.description,
                          from: partition.from.map(Timestamps.iso), to: partition.to.map(Timestamps.iso), isDefault: partition.isDefault)
        } }
        if json {
            try Output.json(rows)
        } else {
            Output.table(["TABLE", "PARTITION", "FROM", "TO"], rows.map {
                [$0.table, $0.partition, $0.isDefault ? "DEFAULT" : ($0.from ?? "MINVALUE"), $0.isDefault ? "" : ($0.to ?? "MAXVALUE")]
            })
        }
    }
}

private struct PartitionJSON: Encodable {
    let table: String
    let partition: String
    let from: String?
    let to: String?
    let isDefault: Bool
}
