import Access
import ArgumentParser
import Audit
import Foundation
import LetheCore
import Postgres
import Schema

struct PartitionsAdoptCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt",
        abstract: "Turn an unpartitioned policy table into its partitioned layout online, without rewriting it.",
        discussion: """
            The table becomes the first partition of a new partitioned table of the same name, FROM (MINVALUE) TO a \
            bound a week past now; the policy's interval partitions follow. Nothing is copied: a CHECK on the time \
            column is added NOT VALID and validated (a scan that inserts pass), so the attach skips its own scan, and \
            the unique key (id, timestamp) a partitioned table needs is built CONCURRENTLY. The switch itself is one \
            short transaction (rename, create, attach) under --lock-timeout, retried: the application's statements \
            wait at most that long. The purge then sweeps the old partition row by row until all of it is past its \
            cutoff, and drops it. A killed run is finished by running it again.

            Refused, with nothing changed, when the table has foreign keys, triggers, rules, row security policies, \
            dependent views or identity columns (they would stay on the old partition only), or rows without a time.

            Examples:
              lethe partitions adopt --table public.sent_sms --dry-run
              lethe partitions adopt --table public.sent_sms
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(help: ArgumentHelp("The policy table to partition.", valueName: "table"))
    var table: String

    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("lock_timeout of each step that locks the table, in milliseconds.", valueName: "ms"))
    var lockTimeout = 200

    @Flag(name: .customLong("dry-run"), help: "Print the steps and the bound; change nothing.")
    var dryRun = false

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func validate() throws {
        guard (10...60_000).contains(lockTimeout) else { throw ValidationError("--lock-timeout must be between 10 and 60000 ms") }
    }

    func execute() throws {
        let policy = try policyOptions.load()
        guard let entry = policy.table(named: table) else {
            throw LetheError.noInput("table \(table) is not in \(policy.source)",
                                     hint: "tables of the policy: \(policy.tables.map(\.name.description).joined(separator: ", "))")
        }
        let db = try database.connect(for: .operator, command: "partitions adopt", policy: policy)
        let adoption = PartitionAdoption(db: db, lockTimeoutMilliseconds: lockTimeout)
        let now = try DatabaseClock.now(db)
        let plan = try adoption.plan(entry, now: now)
        if plan.alreadyPartitioned {
            if json { return try Output.json(plan) }
            return Output.line("\(entry.name) is already partitioned: nothing to do ('lethe partitions list' shows its partitions)")
        }
        if dryRun {
            if json { return try Output.json(plan) }
            Output.line("would partition \(entry.name) (about \(plan.rows) rows, none copied); old rows stay in \(plan.oldPartition) up to \(Timestamps.iso(plan.upperBound)):")
            for (number, step) in plan.steps.enumerated() { Output.line("  \(number + 1). \(step)") }
            if !plan.localUniqueIndexes.isEmpty {
                Output.line("unique indexes kept on the old partition only (later rows are unique by id and time): \(plan.localUniqueIndexes.joined(separator: ", "))")
            }
            return
        }
        let outcome = try adoption.execute(plan, table: entry, policy: policy, now: now) { step in
            if !json && isatty(STDERR_FILENO) == 1 { Terminal.progress(step) }
        }
        _ = try AuditLog.append(db, action: "partitions.adopt", target: entry.name.description, details: [
            "old_partition": .string(outcome.oldPartition), "upper_bound": .string(Timestamps.iso(plan.upperBound)),
            "partitions_created": .int(Int64(outcome.createdPartitions)),
        ])
        if json { return try Output.json(outcome) }
        Output.line("\(entry.name) is partitioned: \(outcome.oldPartition) holds its rows up to \(Timestamps.iso(plan.upperBound)); \(outcome.createdPartitions) partition(s) created after it")
    }
}
