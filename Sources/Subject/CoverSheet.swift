import Foundation
import LetheCore
import Policy

/// The letter that accompanies a subject export (GDPR art. 15(1) a–h): who holds the data and why, what
/// categories, who receives it, where it came from, how long it is kept and when each record goes, and the
/// person's rights. Its texts come from the policy's `dpo` section; the values themselves stay in the JSON.
struct CoverSheet {
    let policy: RetentionPolicy
    let rows: [ExportedRow]
    let request: RequestRegister.Request?
    let generatedAt: Date
    let dataFile: String

    var markdown: String {
        let dpo = policy.dpo
        var lines: [String] = []
        lines += ["# The data we hold about your phone number", ""]
        if let request { lines.append("Our reference: request \(request.id) (\(request.reference)), received \(day(request.receivedAt)).") }
        lines += ["Prepared on \(day(generatedAt)). The file `\(dataFile)` holds a copy of every record listed below, with all its fields.", ""]

        lines += ["## Who holds it", "", dpo.controller + ".", "", "Contact: \(dpo.contact)", ""]

        lines += ["## What we hold", ""]
        if rows.isEmpty {
            lines += ["We hold no data about this phone number.", ""]
        } else {
            for (table, count) in countsInPolicyOrder() {
                lines.append("- \(table.category ?? table.name.description): \(count) record\(count == 1 ? "" : "s")")
            }
            lines.append("")
        }

        lines += ["## Why we hold it", ""] + dpo.purposes.map { "- \($0)" } + [""]
        lines += ["## Who receives it", ""] + dpo.recipients.map { "- \($0)" } + [""]
        lines += ["## Where it came from", "", dpo.source, ""]

        lines += ["## How long we keep it", ""]
        lines.append("Personal data is deleted automatically at most \(ISODuration.ceiling.humanDescription) after it was recorded; "
                     + "the customer who sent the messages may have chosen a shorter period, never a longer one.")
        lines.append("")
        if !rows.isEmpty {
            lines += ["| Record | Customer | Recorded | Kept for | Deleted by |", "|---|---|---|---|---|"]
            for row in rows {
                let recorded = row.recorded.map(day) ?? "-"
                let due = row.held ? "kept while a legal obligation requires it" : row.deletionDue.map(day) ?? "-"
                lines.append("| \(row.table.category.map(shortCategory) ?? row.table.name.description) #\(row.id) | \(row.customer.map(String.init) ?? "-") | \(recorded) | \(row.retention.flatMap { try? ISODuration.parse($0).get().humanDescription } ?? "-") | \(due) |")
            }
            lines.append("")
        }

        lines += ["## Your rights", "", dpo.rights, "", dpo.authority, ""]
        return lines.joined(separator: "\n")
    }

    private func countsInPolicyOrder() -> [(TablePolicy, Int)] {
        policy.tables.compactMap { table in
            let count = rows.count { $0.table.name == table.name }
            return count > 0 ? (table, count) : nil
        }
    }

    /// "Sent SMS (recipient phone number and message text)" -> "Sent SMS".
    private func shortCategory(_ category: String) -> String {
        category.split(separator: "(").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? category
    }

    private func day(_ date: Date) -> String { String(Timestamps.iso(date).prefix(10)) }
}
