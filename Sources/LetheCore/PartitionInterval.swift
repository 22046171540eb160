import Foundation

/// The span of one range partition, aligned on UTC midnight: a day, a week starting on Monday, or a
/// calendar month. Daily partitions make the daily purge drop yesterday's partition instead of deleting
/// its rows one by one.
public enum PartitionInterval: String, Sendable, CaseIterable, CustomStringConvertible {
    case day = "P1D"
    case week = "P7D"
    case month = "P1M"

    /// Accepts the policy's spellings: `P1D`, `P7D` or `P1W`, `P1M`.
    public init?(iso text: String) {
        switch text.uppercased() {
        case "P1D": self = .day
        case "P7D", "P1W": self = .week
        case "P1M": self = .month
        default: return nil
        }
    }

    public var description: String { rawValue }

    /// The first instant of the interval holding `date`.
    public func start(containing date: Date) -> Date {
        let days = UTCDay(containing: date).days
        switch self {
        case .day: return UTCDay(days: days).start
        case .week:
            // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7.
            let weekday = ((days + 3) % 7 + 7) % 7
            return UTCDay(days: days - weekday).start
        case .month: return Month(containing: date).start
        }
    }

    /// The first instant of the interval after the one starting at `start`.
    public func next(after start: Date) -> Date {
        switch self {
        case .day: return start.addingTimeInterval(86_400)
        case .week: return start.addingTimeInterval(7 * 86_400)
        case .month: return Month(containing: start).end
        }
    }

    /// The interval a partition's bounds describe exactly, if any (for `partitions list`).
    public static func matching(from: Date, to: Date) -> PartitionInterval? {
        allCases.first { $0.start(containing: from) == from && $0.next(after: from) == to }
    }

    /// The part of a partition name that says when it starts and sorts by time: `2026_11` for a month
    /// starting on the 1st, `2026_11_26` for anything else. A month partition sorts before its days.
    public static func nameSuffix(start: Date, to end: Date) -> String {
        let day = UTCDay(containing: start)
        let civil = day.civil
        if day.start == start, civil.day == 1, Month(containing: start).end == end {
            return String(format: "%04d_%02d", civil.year, civil.month)
        }
        var suffix = String(format: "%04d_%02d_%02d", civil.year, civil.month, civil.day)
        let seconds = Int(start.timeIntervalSince(day.start))
        if seconds != 0 { suffix += String(format: "_%02d%02d%02d", seconds / 3600, seconds % 3600 / 60, seconds % 60) }
        return suffix
    }
}

/// A UTC calendar day, counted from 1970-01-01.
public struct UTCDay: Hashable, Sendable {
    public let days: Int

    public init(days: Int) { self.days = days }

    public init(containing date: Date) { days = Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }

    public var start: Date { Date(timeIntervalSince1970: Double(days) * 86_400) }

    public var civil: (year: Int, month: Int, day: Int) { Month.civil(fromDays: days) }

    /// Parses `YYYY-MM-DD`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        let days = Month.days(year: year, month: month, day: day)
        guard Month.civil(fromDays: days) == (year, month, day) else { return nil }
        self.days = days
    }
}

extension Month {
    /// `date` moved by whole calendar months, keeping the day of month where it exists (clamped to the
    /// month's last day otherwise, as PostgreSQL's interval arithmetic does) and the time of day.
    public static func adding(months: Int, to date: Date) -> Date {
        let day = UTCDay(containing: date)
        let civil = day.civil
        let target = Month(year: civil.year, month: civil.month + months)
        let lastDay = UTCDay(containing: target.end.addingTimeInterval(-1)).civil.day
        let moved = UTCDay(days: days(year: target.year, month: target.month, day: min(civil.day, lastDay)))
        return moved.start.addingTimeInterval(date.timeIntervalSince(day.start))
    }
}
