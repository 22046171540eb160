import Inspect
import LetheCore
import Policy

/// `inspect`: the live database against the policy (read-only); findings by kind are the run's counts, which
/// the metrics file reads back from the run's row.
public struct InspectJob: RecordedJob {
    public var table: String?
    public var samplePercent: Double?

    public init(table: String? = nil, samplePercent: Double? = nil) {
        self.table = table
        self.samplePercent = samplePercent
    }

    public var name: JobName { .inspect }

    public func run(_ context: JobContext) throws -> InspectReport {
        let report = try Inspection(context.db, policy: try context.policy(), repositoryDirectory: context.settings.repositoryDirectory, ledger: context.settings.ledger)
            .run(table: table, samplePercent: samplePercent)
        // Notice: in the log store with the run; a person at a terminal reads them on stdout.
        for finding in report.findings {
            context.logger.notice("\(finding.line)", metadata: [
                "event.action": "inspect", "kind": "\(finding.kind.rawValue)", "subject": "\(finding.subject)",
                "rows": "\(finding.rows.map(String.init) ?? "")", "hint": "\(finding.hint)",
            ])
        }
        return report
    }

    public func result(of report: InspectReport) -> JobResult {
        let scope = table.map { " (table \($0) only)" } ?? ""
        return JobResult(succeeded: report.findings.isEmpty,
                         detail: (report.findings.isEmpty ? "no finding" : "\(report.findings.count) finding(s): "
                             + report.countsByKind.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) + scope,
                         counts: report.countsByKind)
    }
}
