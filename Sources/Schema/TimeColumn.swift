import Foundation
import LetheCore
import Policy
import Postgres

/// A table's timestamp column as Lethe compares, displays and partitions it: a `timestamptz` (or a `timestamp` read
/// as UTC, which the session's pinned UTC zone makes the same), or Unix epoch seconds in an integer column
/// (`timestamp_type: epoch_seconds`, issue 33). Comparisons convert the instant, never the column, so a cutoff
/// keeps using the column's index and partition pruning.
public struct TimeColumn: Sendable, Equatable {
    public let name: SQLIdentifier
    public let type: TimestampType

    public init(name: SQLIdentifier, type: TimestampType = .timestamptz) {
        self.name = name
        self.type = type
    }

    /// The table's timestamp column, or nil for a table without one.
    public init?(_ table: TablePolicy) {
        guard let column = table.timestampColumn else { return nil }
        self.init(name: column, type: table.timestampType)
    }

    public var isEpochSeconds: Bool { type == .epochSeconds }

    /// An instant (any SQL yielding a `timestamptz`) in the column's own type, so `column < bound(x)` holds exactly
    /// for the rows older than x. For epoch seconds the instant's fractional epoch is rounded up: an integer e is
    /// below a real c exactly when it is below ⌈c⌉ (and at or above c exactly when at or above ⌈c⌉).
    public func bound(_ instant: SQL) -> SQL {
        switch type {
        case .timestamptz: "(\(instant))::timestamptz"
        case .epochSeconds: "ceil(extract(epoch FROM (\(instant))::timestamptz))::bigint"
        }
    }

    /// The row's instant as a `timestamptz` (over `alias` when given), for reports and exports.
    public func instant(alias: SQLIdentifier? = nil) -> SQL {
        let reference: SQL = alias.map { "\($0).\(name)" } ?? "\(name)"
        switch type {
        case .timestamptz: return reference
        case .epochSeconds: return "to_timestamp(\(reference))"
        }
    }

    /// A value read back as text (`column::text`) as a literal of the column's type, to match the row again.
    public func literal(_ text: String) -> SQL {
        switch type {
        case .timestamptz: "\(text: text)::timestamptz"
        case .epochSeconds: "\(text: text)::bigint"
        }
    }

    /// A partition bound at `date`, written as PostgreSQL reads it for this column: a UTC timestamp, or whole epoch
    /// seconds (Lethe's bounds fall on UTC midnights, whole seconds).
    public func boundLiteral(_ date: Date) -> SQL {
        switch type {
        case .timestamptz: "\(literal: date)"
        case .epochSeconds: "\(literal: Int64(date.timeIntervalSince1970.rounded(.down)))"
        }
    }
}
