import Access
import ArgumentParser
import Foundation
import LetheCore
import Policy
import Purge
import Jobs

struct PurgeCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete every row past its customer's retention (six months at most), keeping rows under legal hold.",
        discussion: """
            A customer's cutoff is now - min(P6M, the table's retention, the customer's override), from the database \
            clock read once at the start. Partitions wholly past the cutoff are detached concurrently and dropped; other \
            rows are deleted in short batches (lock_timeout 200ms, retried), so application inserts keep flowing. \
            Every run is recorded in lethe.purge_runs and the audit log; a run killed at any instant leaves the \
            database consistent, and the next run finishes the job. At the end, a check confirms that no row older \
            than its customer's cutoff remains outside holds (exit 1 if any does).

            Only one purge runs at a time: a second one exits 75 at once, or queues with --wait.

            Examples:
              lethe purge --dry-run
              lethe purge --json > /var/log/lethe/purge-$(date +%F).json
              lethe purge --customer 42 --table sms.messages
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var metrics: MetricsFileOption

    @Flag(name: .customLong("dry-run"), help: "Print the plan (partitions to drop, rows per table and customer) and change nothing.")
    var dryRun = false

    @Flag(help: "Print the report as JSON (the same record as the ledger).")
    var json = false

    @Option(help: ArgumentHelp("Purge only this customer's rows (no partition is dropped).", valueName: "id"))
    var customer: CustomerArgument?

    @Option(help: ArgumentHelp("Purge only this table (schema.table or table).", valueName: "name"))
    var table: String?

    @Flag(help: "Wait for a running purge to finish instead of exiting 75.")
    var wait = false

    @Option(name: .customLong("batch-rows"), help: "Rows each row-wise batch (one short transaction) aims at.")
    var batchRows = 10_000

    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("lock_timeout of each purge transaction, in milliseconds: the longest application statements queue behind Lethe.", valueName: "ms"))
    var lockTimeout = 200

    func validate() throws {
        guard (1...1_000_000).contains(batchRows) else { throw ValidationError("--batch-rows must be between 1 and 1000000") }
        guard (10...60_000).contains(lockTimeout) else { throw ValidationError("--lock-timeout must be between 10 and 60000 ms") }
    }

    func execute() throws {
        try OneShotJob.guarding(.purge, database: database, metricsFile: metrics.path, recording: !dryRun) { try executeJob() }
    }

    func executeJob() throws {
        let policy = try policyOptions.load()
        let db = try database.connect(for: .worker, .operator, command: "purge", policy: policy)
        var settings = PurgeSettings()
        settings.batchRows = batchRows
        settings.lockTimeoutMilliseconds = lockTimeout
        let scope = PurgeScope(customer: try customer?.offlineId, table: table)
        let showProgress = !json && isatty(STDERR_FILENO) == 1
        let report = dryRun ? try PurgeJob(db, policy: policy, settings: settings).dryRun(scope: scope)
            : try OneShotJob.run(PurgeRunJob(scope: scope, settings: settings, progress: showProgress ? { Terminal.progress($0) } : nil), db: db,
                                 settings: JobSettings(conninfo: database.conninfo, policy: policy, metricsFile: metrics.path),
                                 whenBusy: wait ? .wait : .fail)
        if json {
            try Output.json(report)
        } else {
            PurgeReportText.print(report)
        }
        if !report.checkPassed {
            throw LetheError(.checkFailed, "rows past their cutoff remain after the purge (the CHECK FAILED lines name them)",
                             hint: "something kept them (a trigger, a rule, rows written meanwhile): find it, then rerun 'lethe purge'")
        }
    }
}

enum PurgeReportText {
    static func print(_ report: PurgeReport) {
        let title = report.dryRun ? "purge plan (dry run: nothing changed)" : "purge run \(report.runId ?? 0): \(report.status)"
        Output.line("\(title)")
        Output.line("database clock \(Timestamps.iso(report.databaseClock.date)), ceiling cutoff \(Timestamps.iso(report.ceilingCutoff.date)), policy \(report.policyHash.prefix(12))")
        if !report.interruptedRunsFound.isEmpty {
            Output.line("interrupted runs found and finished: \(report.interruptedRunsFound.map(String.init).joined(separator: ", "))")
        }
        var rows: [[String]] = []
        for table in report.tables {
            for drop in table.partitionsDropped {
                let kept = drop.keptRows > 0 ? " (\(drop.keptRows) held rows kept)" : ""
                rows.append([table.table, "partition \(drop.partition)\(kept)", "*", Timestamps.iso(table.tableCutoff.date), "\(drop.rows)"])
            }
            let cutoffs = Dictionary(uniqueKeysWithValues: table.customerCutoffs.map { ($0.customerId, $0.cutoff) })
            for deleted in table.rowsDeleted {
                let cutoff = deleted.customerId.flatMap { cutoffs[$0] } ?? table.tableCutoff
                rows.append([table.table, "rows", deleted.customerId.map(String.init) ?? "(none)", Timestamps.iso(cutoff.date), "\(deleted.rows)"])
            }
            if table.partitionsDropped.isEmpty && table.rowsDeleted.isEmpty {
                rows.append([table.table, "-", "-", Timestamps.iso(table.tableCutoff.date), "0"])
            }
        }
        Output.table(["TABLE", report.dryRun ? "WILL REMOVE" : "REMOVED", "CUSTOMER", "CUTOFF", "ROWS"], rows)
        let total = report.tables.reduce(Int64(0)) { $0 + $1.totalRows }
        let partitions = report.tables.reduce(0) { $0 + $1.partitionsDropped.count }
        Output.line("total: \(total) rows, \(partitions) partitions \(report.dryRun ? "to remove" : "removed")")
        for hold in report.holds {
            let kept = report.tables.compactMap { table in
                table.keptByHold.first { $0.customerId == hold.customerId }.map { "\(table.table) \($0.rows)" }
            }
            Output.line("kept by legal hold \(hold.holdId) on customer \(hold.customerId): \(kept.isEmpty ? "no rows past cutoff" : kept.joined(separator: ", ") + " rows")")
        }
        guard let check = report.check else { return }
        if check.isEmpty {
            Output.line("check: no row older than its customer's cutoff remains outside legal holds")
        } else {
            for finding in check {
                Output.line("CHECK FAILED: \(finding.table) customer \(finding.customerId.map(String.init) ?? "(none)"): \(finding.rows) rows past cutoff remain")
            }
        }
    }
}
