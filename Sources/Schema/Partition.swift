import Foundation
import LetheCore
import Policy
import Postgres

/// One range partition of a partitioned table, as the catalog describes it, whoever created it.
public struct Partition: Sendable, Equatable {
    public let parent: QualifiedName
    public let name: QualifiedName
    /// Inclusive lower bound; nil for MINVALUE, a DEFAULT partition or unreadable bounds.
    public let from: Date?
    /// Exclusive upper bound; nil for MAXVALUE, a DEFAULT partition or unreadable bounds.
    public let to: Date?
    public let isDefault: Bool
    /// The bound clause exactly as PostgreSQL prints it (`FOR VALUES FROM (…) TO (…)`), to re-attach a rebuilt partition.
    public let boundClause: String?
    /// Bounds Lethe cannot read (another partition key type, a list partition): purged row-wise, never dropped.
    public let boundsUnreadable: Bool
    /// Left half-detached by an interrupted `DETACH PARTITION … CONCURRENTLY`: the next purge finalizes it.
    public let detachPending: Bool

    public init(parent: QualifiedName, name: QualifiedName, from: Date?, to: Date?, isDefault: Bool = false, boundClause: String? = nil,
                boundsUnreadable: Bool = false, detachPending: Bool = false) {
        self.parent = parent
        self.name = name
        self.from = from
        self.to = to
        self.isDefault = isDefault
        self.boundClause = boundClause
        self.boundsUnreadable = boundsUnreadable
        self.detachPending = detachPending
    }

    /// The interval these bounds describe exactly (a day, a Monday week, a calendar month), if any.
    public var interval: PartitionInterval? {
        guard let from, let to else { return nil }
        return PartitionInterval.matching(from: from, to: to)
    }

    /// True when the whole range lies before `instant` (every row it can hold is older).
    public func liesEntirelyBefore(_ instant: Date) -> Bool {
        guard !isDefault, let to else { return false }
        return to <= instant
    }

    /// The span of time this partition takes, for gap planning; nil when it takes none Lethe can see.
    var span: (from: Date, to: Date)? {
        guard !isDefault, !boundsUnreadable else { return nil }
        return (from ?? .distantPast, to ?? .distantFuture)
    }

    /// Parses `pg_get_expr(relpartbound)` output printed in UTC, e.g.
    /// `FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')`; a `timestamp` key's bounds
    /// (no offset) and a `date` key's (`'2026-11-01'`) are read as UTC.
    /// With `epochSeconds` (a `timestamp_type: epoch_seconds` key), bounds are integers of Unix seconds (`FROM
    /// (1764547200) TO (1764633600)`); anywhere else an integer bound is not a time and the bounds are unreadable.
    static func bounds(fromExpression expression: String, epochSeconds: Bool = false) -> (from: Date?, to: Date?, isDefault: Bool)? {
        if expression == "DEFAULT" { return (nil, nil, true) }
        guard let fromRange = expression.range(of: "FROM ("), let toRange = expression.range(of: ") TO (") else { return nil }
        let lower = String(expression[fromRange.upperBound..<toRange.lowerBound])
        let upper = String(expression[toRange.upperBound...].dropLast())
        func value(_ text: String) -> Date?? {
            if text == "MINVALUE" || text == "MAXVALUE" { return .some(nil) }
            if epochSeconds {
                guard let seconds = Int64(text.hasPrefix("'") && text.hasSuffix("'") ? String(text.dropFirst().dropLast()) : text) else { return nil }
                return .some(Date(timeIntervalSince1970: TimeInterval(seconds)))
            }
            guard text.hasPrefix("'"), text.hasSuffix("'") else { return nil }
            var literal = String(text.dropFirst().dropLast())
            // A `date` key's bound (`'2026-12-03'`) is that day's UTC midnight; a `timestamp` one is read as UTC.
            if literal.utf8.count == 10 { literal += " 00:00:00" }
            guard let date = PostgresTimestamp.parse(literal) else { return nil }
            return .some(date)
        }
        guard let from = value(lower), let to = value(upper) else { return nil }
        return (from, to, false)
    }
}

/// The partitions a table still lacks between two instants, at its interval. Where existing partitions of
/// other bounds (monthly ones made before a move to daily, pg_partman's, hand-made) cover part of an
/// interval, only the uncovered part is created: a new layout starts at the first instant nothing covers,
/// and nothing ever overlaps.
public struct PartitionGapPlan: Sendable, Equatable {
    public struct Range: Sendable, Equatable, CustomStringConvertible {
        public let from: Date
        public let to: Date
        public var description: String { "[\(Timestamps.iso(from)), \(Timestamps.iso(to)))" }
    }

    public let missing: [Range]
    /// Intervals already wholly covered.
    public let alreadyPresent: Int

    /// Every interval from the one holding `from` through the one holding `through`.
    public init(interval: PartitionInterval, from: Date, through: Date, existing: [Partition]) {
        let spans = existing.compactMap(\.span).sorted { $0.from < $1.from }
        var missing: [Range] = []
        var present = 0
        var slot = interval.start(containing: from)
        while slot <= through {
            let end = interval.next(after: slot)
            let before = missing.count
            var cursor = slot
            for span in spans where span.to > cursor && span.from < end {
                if span.from > cursor { missing.append(Range(from: cursor, to: span.from)) }
                cursor = max(cursor, span.to)
                if cursor >= end { break }
            }
            if cursor < end { missing.append(Range(from: cursor, to: end)) }
            if missing.count == before { present += 1 }
            slot = end
        }
        self.missing = missing
        self.alreadyPresent = present
    }

    /// `missing`, with the ranges that end by `instant` merged where they touch: a hole in the past takes one
    /// partition, not one per interval (it holds only rows that arrive late; the interval layout resumes after it).
    public func coalesced(before instant: Date) -> [Range] {
        var ranges: [Range] = []
        for range in missing {
            if range.to <= instant, let last = ranges.last, last.to == range.from, last.to <= instant {
                ranges[ranges.count - 1] = Range(from: last.from, to: range.to)
            } else {
                ranges.append(range)
            }
        }
        return ranges
    }

    /// Where a table's layout must be continuous from: the start of its first partition, but not before `floor`
    /// (the oldest instant its retention keeps; rows older are purged anyway), and `now` for a table without
    /// partitions. A layout that ends before today (a monthly history, a tool that stopped) is then continued from
    /// its last partition's end, not from today's interval, which would leave a hole where inserts fail.
    public static func continuousFrom(existing: [Partition], now: Date, floor: Date) -> Date {
        guard let first = existing.compactMap(\.span).map(\.from).min() else { return now }
        return min(now, max(floor, first))
    }

    /// The same for `table`: its partitions still attached, and the floor its retention (or the ceiling) sets.
    public static func continuousFrom(existing: [Partition], now: Date, table: TablePolicy) -> Date {
        continuousFrom(existing: existing.filter { !$0.detachPending }, now: now, floor: (table.retention ?? .ceiling).subtracted(from: now))
    }
}
