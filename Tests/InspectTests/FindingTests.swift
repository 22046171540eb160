@testable import Inspect
import Testing

/// How `lethe inspect` says what it found: `KIND subject: what, N rows`, counts by kind for the metric (every kind
/// present, zero included, so a fixed finding goes back to 0 instead of vanishing), never a value.
@Suite struct FindingTests {
    @Test func aLineNamesKindSubjectAndCount() {
        let unsealed = Finding(kind: .unsealedValue, subject: "sms.messages.body", what: "personal values that are not sealed envelopes", rows: 1,
                               hint: "lethe encrypt migrate --table sms.messages --column body --from plaintext")
        #expect(unsealed.line == "UNSEALED_VALUE sms.messages.body: personal values that are not sealed envelopes, 1 row")
        let undeclared = Finding(kind: .undeclaredColumn, subject: "sms.contacts.email", what: "column not declared in the policy", rows: 3, hint: "declare it")
        #expect(undeclared.line == "UNDECLARED_COLUMN sms.contacts.email: column not declared in the policy, 3 rows with a value")
        let stale = Finding(kind: .staleBackup, subject: "/var/backups/lethe", what: "no backup newer than 26 hours", rows: nil, hint: "lethe backup")
        #expect(stale.line == "STALE_BACKUP /var/backups/lethe: no backup newer than 26 hours")
    }

    @Test func countsByKindListEveryKind() {
        let findings = [Finding(kind: .requestsOverdue, subject: "requests", what: "1 open request past its due date", rows: 1, hint: "lethe requests list --open")]
        let report = InspectReport(inspectedAt: .now, tables: [], samplePercent: 100, findings: findings)
        #expect(report.countsByKind.count == Finding.Kind.allCases.count)
        #expect(report.countsByKind["requests_overdue"] == 1 && report.countsByKind["unsealed_value"] == 0)
    }
}
