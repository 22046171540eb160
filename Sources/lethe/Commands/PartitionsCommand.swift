import Postgres
import Access
import ArgumentParser
import Foundation
import LetheCore
import Policy
import Schema
import Jobs

struct PartitionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partitions",
        abstract: "Manage the range partitions of partitioned policy tables.",
        subcommands: [PartitionsEnsureCommand.self, PartitionsListCommand.self, PartitionsAdoptCommand.self]
    )
}

struct PartitionsEnsureCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensure",
        abstract: "Create the missing partitions of each table's policy interval, from now (or --from) to the policy's 'ahead'.",
        discussion: """
            Each partitioned table is laid out as its policy says (partitioning: { interval: P1D, ahead: P30D }): \
            partitions of a day, a Monday-based week or a calendar month, aligned on UTC midnight, named so that \
            they sort by time (messages_p2026_11_26, messages_p2026_11). Nothing is ever created over an existing \
            partition: where monthly partitions already exist, daily ones start at the first instant none covers, so \
            a deployed database moves to a new interval without rewriting anything. Tables whose policy says \
            'create: false' (pg_partman or the application makes their partitions) are left alone.

            A row whose time has no partition is refused by PostgreSQL ("no partition of relation ... found for \
            row"), never lost: keep partitions ahead of time (lethe purge does this on every run), and use --from \
            for backfills.

            Examples:
              lethe partitions ensure
              lethe partitions ensure --ahead P90D
              lethe partitions ensure --from 2026-05-01 --dry-run --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(help: ArgumentHelp("How far past now partitions must exist (ISO-8601, e.g. P30D); default: each table's policy.", valueName: "DURATION"))
    var ahead: String?

    @Option(name: .customLong("months-ahead"), help: ArgumentHelp("Same as --ahead PnM (kept for older scripts).", visibility: .hidden))
    var monthsAhead: Int?

    @Option(help: ArgumentHelp("Also create every partition from this day (YYYY-MM-DD, or a month YYYY-MM) up to now.", valueName: "DATE"))
    var from: String?

    @OptionGroup var metrics: MetricsFileOption

    @Flag(name: .customLong("dry-run"), help: "Print the partitions that would be created; create none.")
    var dryRun = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if let monthsAhead, !(0...24).contains(monthsAhead) { throw ValidationError("--months-ahead must be between 0 and 24") }
        if ahead != nil && monthsAhead != nil { throw ValidationError("give --ahead or --months-ahead, not both") }
        if let ahead, aheadDuration(ahead) == nil {
            throw ValidationError("--ahead must be a positive ISO-8601 duration of at most two years, e.g. P30D or P3M")
        }
        if let from, Self.fromDate(from) == nil {
            throw ValidationError("--from must be a day written YYYY-MM-DD (e.g. 2026-05-01) or a month YYYY-MM")
        }
    }

    private func aheadDuration(_ text: String) -> ISODuration? {
        guard case .success(let duration) = ISODuration.parse(text), duration.longestSeconds <= 2 * 366 * 86_400 else { return nil }
        return duration
    }

    static func fromDate(_ text: String) -> Date? {
        UTCDay(parsing: text)?.start ?? Month(parsing: text)?.start
    }

    func execute() throws {
        try OneShotJob.guarding(.partitions, database: database, metricsFile: metrics.path, recording: !dryRun) { try executeJob() }
    }

    func executeJob() throws {
        let policy = try policyOptions.load()
        let db = try database.connect(for: .worker, .operator, command: "partitions", policy: policy)
        let now = try DatabaseClock.now(db)
        let aheadOverride = ahead.flatMap(aheadDuration) ?? monthsAhead.map { ISODuration(months: $0) }
        // A real run is a run of the worker's `partitions` job, recorded for `lethe status`; a dry run is not.
        let report = dryRun
            ? try PartitionCatalog().ensure(db, policy: policy, now: now, from: from.flatMap(Self.fromDate), ahead: aheadOverride, dryRun: true)
            : try OneShotJob.run(PartitionsEnsureJob(from: from.flatMap(Self.fromDate), ahead: aheadOverride), db: db,
                                 settings: JobSettings(conninfo: database.conninfo, policy: policy, metricsFile: metrics.path))
        if json {
            try Output.json(EnsureJSON(dryRun: dryRun, created: report.created.map {
                EnsureJSON.Created(table: $0.table.description, partition: $0.name.description, from: Timestamps.iso($0.from), to: Timestamps.iso($0.to))
            }, alreadyPresent: report.alreadyPresent, conflicts: report.conflicts, notManaged: report.notManaged.map(\.description),
                                      pgPartman: report.pgPartman.map(\.description)))
        } else {
            let verb = dryRun ? "would create" : "created"
            report.created.forEach { Output.line("\(verb) \($0.name) [\(Timestamps.iso($0.from)), \(Timestamps.iso($0.to)))") }
            for table in report.notManaged { Output.line("\(table): partitions are created by another tool (partitioning.create: false)") }
            for table in report.pgPartman { Output.line("\(table): pg_partman manages its partitions (part_config): Lethe creates none, and only drops expired ones") }
            Output.line("\(report.created.count) partition(s) \(verb), \(report.alreadyPresent) interval(s) already covered")
        }
        for conflict in report.conflicts { Terminal.warn(conflict) }
        if !report.conflicts.isEmpty {
            throw LetheError.config("\(report.conflicts.count) partition(s) could not be created",
                                    hint: "an existing partition, a table of the same name or rows in a DEFAULT partition are in the way; see the warnings above")
        }
    }
}

private struct EnsureJSON: Encodable {
    struct Created: Encodable {
        let table: String
        let partition: String
        let from: String
        let to: String
    }

    let dryRun: Bool
    let created: [Created]
    let alreadyPresent: Int
    let conflicts: [String]
    let notManaged: [String]
    let pgPartman: [String]
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
        let db = try database.connect(for: .worker, .operator, command: "partitions", policy: policy)
        let tables = try PartitionCatalog().partitionedTables(db, policy: policy)
        let rows = tables.flatMap { table in table.partitions.map { partition in
            PartitionJSON(table: table.table.name.description, partition: partition.name.description,
                          from: partition.from.map(Timestamps.iso), to: partition.to.map(Timestamps.iso), isDefault: partition.isDefault,
                          interval: partition.interval?.rawValue, boundsReadable: !partition.boundsUnreadable,
                          detachPending: partition.detachPending)
        } }
        if json {
            try Output.json(rows)
        } else {
            Output.table(["TABLE", "PARTITION", "FROM", "TO", "INTERVAL"], rows.map { row in
                let from = row.isDefault ? "DEFAULT" : !row.boundsReadable ? "(unreadable)" : (row.from ?? "MINVALUE")
                let to = row.isDefault || !row.boundsReadable ? "" : (row.to ?? "MAXVALUE")
                return [row.table, row.partition, from, to, (row.interval ?? "-") + (row.detachPending ? " (detach pending)" : "")]
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
    let interval: String?
    let boundsReadable: Bool
    let detachPending: Bool
}
