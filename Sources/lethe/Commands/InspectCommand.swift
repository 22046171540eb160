import Access
import ArgumentParser
import Foundation
import Inspect
import LetheCore
import Jobs

struct InspectCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Check the live database against the policy: only declared data, sealed, purged, backed up. Read-only.",
        discussion: """
            Findings, one per line as 'KIND table.column: what, N rows', each with the command that fixes it:
              UNDECLARED_COLUMN       a column the policy does not declare
              UNDECLARED_TABLE        a table in the policy's schemas it does not list
              UNSEALED_VALUE          a personal value that is not a Lethe envelope
              MISSING_BLIND_INDEX     a personal value without its blind index
              RETENTION_OVERDUE       rows past their cutoff outside legal holds
              STALE_BACKUP            no backup newer than 26 hours (with a repository)
              PARTITIONS_AHEAD        partitions short of the policy's 'ahead'
              DEFAULT_PARTITION_ROWS  rows in a DEFAULT partition
              REQUESTS_OVERDUE        data-subject requests past their due date
            A column is declared as the id, timestamp, customer, personal, blind index, subject_via or \
            operational column; 'lethe encrypt verify' stays the cryptographic check of sealed values. \
            Counts, ids and names only: never a value. Exit 0 with no finding, 1 with any. It runs in one read-only \
            transaction and changes nothing. The worker runs it on its 'inspect' schedule entry.

            Examples:
              lethe inspect
              lethe inspect --table sms.messages --sample 1
              lethe inspect --json | jq '.findings[] | select(.kind == "unsealed_value") | .rowIds'
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var metrics: MetricsFileOption
    @OptionGroup var ledgerOptions: LedgerOptions

    @Option(help: ArgumentHelp("Inspect only this table (schema.table or table).", valueName: "name"))
    var table: String?

    @Option(help: ArgumentHelp("Check values in a TABLESAMPLE SYSTEM sample of this percentage of each table, for very large tables.", valueName: "percent"))
    var sample: Double?

    @Flag(help: "Print the findings as JSON (unsealed values list up to 100 row ids per column).")
    var json = false

    func validate() throws {
        if let sample, !(sample > 0 && sample <= 100) { throw ValidationError("--sample must be a percentage above 0 and at most 100") }
    }

    func execute() throws {
        try OneShotJob.guarding(.inspect, database: database, metricsFile: metrics.path) { try executeJob() }
    }

    func executeJob() throws {
        let policy = try policyOptions.load()
        let db = try database.connect(for: .worker, .operator, command: "inspect", policy: policy)
        var settings = JobSettings(conninfo: database.conninfo, policy: policy, repositoryDirectory: repository.directory(policy), metricsFile: metrics.path)
        settings.ledger = try ledgerOptions.ledger()
        let report = try OneShotJob.run(InspectJob(table: table, samplePercent: sample), db: db, settings: settings)
        if json {
            try Output.json(report)
        } else {
            for finding in report.findings {
                Output.line(finding.line)
                Output.line("  HINT: \(finding.hint)")
            }
            if !report.awaitingEncrypt.isEmpty {
                Output.line("still receiving clear text, awaiting the encrypt job: "
                            + report.awaitingEncrypt.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", "))
            }
            if !report.notEnforced.isEmpty {
                Output.line("sealing not enforced by the database (lethe constraints apply): \(report.notEnforced.joined(separator: ", "))")
            }
            if !report.clearByDeclaration.isEmpty {
                Output.line("clear by declaration (personal_clear, never sealed): \(report.clearByDeclaration.joined(separator: ", "))")
            }
            let counts = report.countsByKind.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            Output.line(report.findings.isEmpty
                        ? "no finding: \(report.tables.count) table(s) inspected\(sample.map { ", values in a \($0)% sample" } ?? "")"
                        : "\(report.findings.count) finding(s): \(counts.joined(separator: ", "))")
        }
        if !report.findings.isEmpty {
            throw LetheError(.checkFailed, "\(report.findings.count) finding(s)", hint: "each finding above says what to do about it")
        }
    }
}
