import Access
import ArgumentParser
import Foundation
import LetheCore
import Jobs

struct StatusCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each job's last run, outcome, duration, last success and next slot; exit 1 when one needs attention.",
        discussion: """
            Reads lethe.job_runs, which the worker and the one-shot commands both write. Exit 0 when all is well; \
            exit 1 when a job's last run failed or a job is overdue: no success within its period plus a grace (a \
            twelfth of the period, at least a minute: two hours for a daily job). A job that never ran in a database \
            migrated less than one period ago is not overdue. Fit for a Nagios-style check.

            Examples:
              lethe status
              lethe status --json | jq '.[] | select(.overdue)'
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var ledgerOptions: LedgerOptions
    @Flag(help: "Print the status as JSON.") var json = false

    func execute() throws {
        let db = try database.connect(for: .worker, .operator, .auditor, command: "status")
        let statuses = try JobStatus.all(db, policy: try policyOptions.load())
        // Where the database stands against its ledger (issue 32): behind it means it was rolled back.
        let ledger = try ledgerOptions.ledger().map { try $0.compare(db) }
        if json {
            try Output.json(statuses)
        } else {
            Output.table(["JOB", "SCHEDULE", "LAST RUN", "OUTCOME", "DURATION", "LAST SUCCESS", "NEXT", "STATE"], statuses.map { status in
                let last = status.lastRun
                return [status.job, status.schedule, last.map { Timestamps.iso($0.startedAt) } ?? "never", last?.outcome.rawValue ?? "-",
                        last?.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-", status.lastSuccessAt.map(Timestamps.iso) ?? "never",
                        status.nextDue.map(Timestamps.iso) ?? "-", status.lastRunFailed ? "FAILED" : status.overdue ? "OVERDUE" : "ok"]
            })
        }
        if let ledger, !json {
            let state = ledger.state == .inStep ? "in step (\(ledger.ledgerPosition) record(s))"
                : ledger.state == .databaseBehind ? "DATABASE BEHIND ITS LEDGER: \(ledger.missing.count) record(s) missing (run 'lethe reconcile'; the worker does it before any job)"
                : ledger.state == .ledgerBehind ? "LEDGER BEHIND THE DATABASE (\(ledger.ledgerPosition) of \(ledger.databasePosition)): a stale or lost ledger copy"
                : "LEDGER AND DATABASE DISAGREE at record \(ledger.databasePosition)"
            Output.line("ledger: \(state)")
        }
        if let ledger, ledger.state != .inStep {
            throw LetheError(.checkFailed, "the database is not in step with its ledger (\(ledger.state.rawValue))",
                             hint: ledger.state == .databaseBehind ? "lethe reconcile" : "put the current ledger back from its off-host copy")
        }
        let attention = statuses.filter { !$0.healthy }
        if !attention.isEmpty {
            throw LetheError(.checkFailed, "\(attention.count) job(s) need attention: \(attention.map(\.job).joined(separator: ", "))",
                             hint: "a failed job logged its error (event.outcome: failure); an overdue one has not succeeded in its period")
        }
    }
}
