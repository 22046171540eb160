import LetheCore
import Postgres

/// The predicates shared by planning (counts), execution (deletes) and the final check, so that what
/// `--dry-run` counts is exactly what a run deletes. Identifiers come from the validated policy.
struct PurgeSQL {
    let timestamp: SQLIdentifier
    let customer: SQLIdentifier

    /// Rows older than the table cutoff ($1), customer not held at the run clock ($2), optionally one customer ($3).
    func tableCutoffPredicate(scopedToCustomer: Bool) -> String {
        var predicate = "\(timestamp.quoted) < $1::timestamptz AND NOT \(LegalHolds.activeHoldPredicate(column: customer, clockParameter: 2))"
        if scopedToCustomer { predicate += " AND \(customer.quoted) = $3" }
        return predicate
    }

    func tableCutoffParameters(cutoff: DatabaseTime, now: DatabaseTime, customer: Int64?) -> [SQLValue] {
        [cutoff.sql, now.sql] + (customer.map { [.int($0)] } ?? [])
    }

    /// One customer's ($3) rows from the table cutoff ($4) to its own cutoff ($1), unless held at $2.
    var customerCutoffPredicate: String {
        """
        \(customer.quoted) = $3 AND \(timestamp.quoted) >= $4::timestamptz AND \(timestamp.quoted) < $1::timestamptz
        AND NOT \(LegalHolds.activeHoldPredicate(column: customer, clockParameter: 2))
        """
    }

    func customerCutoffParameters(cutoff: DatabaseTime, now: DatabaseTime, customer: Int64, tableCutoff: DatabaseTime) -> [SQLValue] {
        [cutoff.sql, now.sql, .int(customer), tableCutoff.sql]
    }

    func countByCustomer(_ relation: QualifiedName, where predicate: String) -> String {
        "SELECT \(customer.quoted) AS customer_id, count(*) AS n FROM \(relation.quoted) WHERE \(predicate) GROUP BY 1 ORDER BY 1"
    }
}

extension QueryResult {
    func customerRows() throws -> [CustomerRows] {
        try rows.map { CustomerRows(customerId: try $0.int("customer_id"), rows: try $0.int("n")) }
    }
}
