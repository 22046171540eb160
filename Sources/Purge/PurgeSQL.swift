import LetheCore
import Postgres
import Schema

/// The predicates shared by planning (counts), execution (deletes) and the final check, so that what
/// `--dry-run` counts is exactly what a run deletes. Each is an `SQL` fragment carrying its own values;
/// identifiers come from the validated policy.
struct PurgeSQL {
    let time: TimeColumn
    /// The row's customer id (`CustomerKey.sql`): the column, or the id of the name it holds.
    let customer: SQL

    /// Rows older than the table cutoff whose customer is not held at the run clock `now`; only `customer`'s
    /// rows when the run is scoped to one. With `slack` (seconds), only rows older than the cutoff by more than
    /// that (`inspect`'s overdue rows).
    func tableCutoff(_ cutoff: DatabaseTime, now: DatabaseTime, customer only: Int64?, slack: Int64 = 0) -> SQL {
        var predicate: SQL = "\(time.name) < \(time.bound(Self.shifted(cutoff.sql, by: slack))) AND NOT \(LegalHolds.activeHoldPredicate(column: customer, at: now.sql))"
        if let only { predicate += " AND \(customer) = \(only)" }
        return predicate
    }

    /// Rows of the customers in `cutoffs` from the table cutoff up to each one's own cutoff (aligned arrays),
    /// below the latest of those (which bounds index ranges and partition pruning), unless held at `now`. With
    /// `slack`, both ends move by it: a row within `slack` before the table cutoff is overdue for a shortened customer.
    func customerCutoffs(tableCutoff: DatabaseTime, now: DatabaseTime, cutoffs: [CustomerCutoff], slack: Int64 = 0) -> SQL {
        let latest = cutoffs.map(\.cutoff).max() ?? tableCutoff
        let ids = Self.customerIds(cutoffs)
        let own: SQL = "(\(Self.cutoffTimes(cutoffs))::timestamptz[])[array_position(\(ids)::bigint[], \(customer))]"
        return """
            \(customer) = ANY (\(ids)::bigint[]) AND \(time.name) >= \(time.bound(Self.shifted(tableCutoff.sql, by: slack))) AND \(time.name) < \(time.bound("\(latest.sql)"))
            AND \(time.name) < \(time.bound(slack == 0 ? own : "\(own) - \(slack) * interval '1 second'"))
            AND NOT \(LegalHolds.activeHoldPredicate(column: customer, at: now.sql))
            """
    }

    static func shifted(_ cutoff: SQLValue, by slack: Int64) -> SQL {
        slack == 0 ? "\(cutoff)::timestamptz" : "(\(cutoff)::timestamptz - \(slack) * interval '1 second')"
    }

    /// The customers of `cutoffs` as a `bigint[]` value, and their cutoffs, aligned, as a `timestamptz[]` one.
    static func customerIds(_ cutoffs: [CustomerCutoff]) -> SQLValue { .intArray(cutoffs.map(\.customerId)) }

    static func cutoffTimes(_ cutoffs: [CustomerCutoff]) -> SQLValue { .textArray(cutoffs.map(\.cutoff.text)) }

    func countByCustomer(_ relation: QualifiedName, where predicate: SQL) -> SQL {
        "SELECT \(customer) AS customer_id, count(*) AS n FROM \(relation) WHERE \(predicate) GROUP BY 1 ORDER BY 1"
    }
}

extension QueryResult {
    func customerRows() throws -> [CustomerRows] {
        try rows.map { CustomerRows(customerId: try $0.optionalInt("customer_id"), rows: try $0.int("n")) }
    }
}
