import Foundation
import LetheCore
import Postgres

/// One range partition of a partitioned table, as the catalog describes it.
public struct Partition: Sendable, Equatable {
    public let parent: QualifiedName
    public let name: QualifiedName
    /// Inclusive lower bound; nil for MINVALUE or a DEFAULT partition.
    public let from: Date?
    /// Exclusive upper bound; nil for MAXVALUE or a DEFAULT partition.
    public let to: Date?
    public let isDefault: Bool
    /// The bound clause exactly as PostgreSQL prints it (`FOR VALUES FROM (…) TO (…)`), to re-attach a rebuilt partition.
    public let boundClause: String?

    public init(parent: QualifiedName, name: QualifiedName, from: Date?, to: Date?, isDefault: Bool = false, boundClause: String? = nil) {
        self.parent = parent
        self.name = name
        self.from = from
        self.to = to
        self.isDefault = isDefault
        self.boundClause = boundClause
    }

    /// True when the whole range lies before `instant` (every row it can hold is older).
    public func liesEntirelyBefore(_ instant: Date) -> Bool {
        guard !isDefault, let to else { return false }
        return to <= instant
    }

    func covers(_ month: Month) -> Bool {
        guard !isDefault else { return false }
        return (from.map { $0 <= month.start } ?? true) && (to.map { $0 >= month.end } ?? true)
    }

    func overlaps(_ month: Month) -> Bool {
        guard !isDefault else { return false }
        return (from.map { $0 < month.end } ?? true) && (to.map { $0 > month.start } ?? true)
    }

    /// Parses `pg_get_expr(relpartbound)` output printed in UTC, e.g.
    /// `FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')`.
    static func bounds(fromExpression expression: String) -> (from: Date?, to: Date?, isDefault: Bool)? {
        if expression == "DEFAULT" { return (nil, nil, true) }
        guard let fromRange = expression.range(of: "FROM ("), let toRange = expression.range(of: ") TO (") else { return nil }
        let lower = String(expression[fromRange.upperBound..<toRange.lowerBound])
        let upper = String(expression[toRange.upperBound...].dropLast())
        func value(_ text: String) -> Date?? {
            if text == "MINVALUE" || text == "MAXVALUE" { return .some(nil) }
            guard text.hasPrefix("'"), text.hasSuffix("'"), let date = PostgresTimestamp.parse(String(text.dropFirst().dropLast())) else { return nil }
            return .some(date)
        }
        guard let from = value(lower), let to = value(upper) else { return nil }
        return (from, to, false)
    }
}

/// The months a monthly-partitioned table still lacks among those wanted. A month partly covered by
/// a partition of other bounds cannot be created and is reported as a conflict.
public struct PartitionGapPlan: Sendable, Equatable {
    public let missing: [Month]
    public let conflicts: [Month]

    public init(wanted: [Month], existing: [Partition]) {
        var missing: [Month] = []
        var conflicts: [Month] = []
        for month in wanted where !existing.contains(where: { $0.covers(month) }) {
            if existing.contains(where: { $0.overlaps(month) }) { conflicts.append(month) } else { missing.append(month) }
        }
        self.missing = missing
        self.conflicts = conflicts
    }
}
