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

    /// Rows of the customers in $3 (bigint[]) from the table cutoff ($1) up to each one's own cutoff ($4, a
    /// timestamptz[] aligned with $3), below the latest of those ($5: bounds index ranges and partition
    /// pruning), unless held at the run clock ($2).
    var customerCutoffsPredicate: String {
        """
        \(customer.quoted) = ANY ($3::bigint[]) AND \(timestamp.quoted) >= $1::timestamptz AND \(timestamp.quoted) < $5::timestamptz
        AND \(timestamp.quoted) < ($4::timestamptz[])[array_position($3::bigint[], \(customer.quoted))]
        AND NOT \(LegalHolds.activeHoldPredicate(column: customer, clockParameter: 2))
        """
    }

    func customerCutoffsParameters(tableCutoff: DatabaseTime, now: DatabaseTime, cutoffs: [CustomerCutoff]) -> [SQLValue] {
        let latest = cutoffs.map(\.cutoff).max() ?? tableCutoff
        return [tableCutoff.sql, now.sql, Self.customerIds(cutoffs), Self.cutoffTimes(cutoffs), latest.sql]
    }

    /// The customers of `cutoffs` as a `bigint[]` parameter, and their cutoffs, aligned, as a `timestamptz[]` one.
    static func customerIds(_ cutoffs: [CustomerCutoff]) -> SQLValue {
        .text("{" + cutoffs.map { String($0.customerId) }.joined(separator: ",") + "}")
    }

    static func cutoffTimes(_ cutoffs: [CustomerCutoff]) -> SQLValue {
        .textArray(cutoffs.map(\.cutoff.text))
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
