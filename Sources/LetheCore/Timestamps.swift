import Foundation

/// ISO-8601 in UTC, the one timestamp format of reports, logs, files and bound parameters.
public enum Timestamps {
    /// Seconds precision, for reports: `2026-11-25T18:58:56Z`.
    public static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Millisecond precision, for logs, files and parameters: `2026-11-25T18:58:56.123Z`.
    public static func isoFractional(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Basic format for names of files and ids: `20261125T185856Z`.
    public static func compact(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return formatter.string(from: date)
    }

    /// Parses ISO-8601 with an offset, with or without fractional seconds.
    public static func parseISO(_ text: String) -> Date? { ISOTimestampParser().parse(text) }

    /// Parses a command-line date: a full ISO-8601 timestamp, or `YYYY-MM-DD` (UTC) meaning the start of that
    /// day, or its end (the next midnight) with `dayEnd`, for "until" dates that include the day.
    public static func parseCommandLineDate(_ text: String, dayEnd: Bool = false) -> Date? {
        if let date = parseISO(text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text).map { dayEnd ? $0.addingTimeInterval(86400) : $0 }
    }
}

/// Reusable ISO-8601 parsing for hot paths (one per reader; formatters are not shared across threads).
public final class ISOTimestampParser {
    private let fractional: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
    private let whole = ISO8601DateFormatter()

    public init() {}

    public func parse(_ text: String) -> Date? { fractional.date(from: text) ?? whole.date(from: text) }
}
