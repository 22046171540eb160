import Foundation

/// ISO-8601 in UTC, the one timestamp format of reports, logs, files and bound parameters.
public enum Timestamps {
    // Formatting is done by hand from gmtime_r: Foundation's formatters go through ICU, whose set-up cost
    // (about a millisecond each) dominated short commands that print a timestamp per row.

    /// Seconds precision, for reports: `2026-11-25T18:58:56Z`.
    public static func iso(_ date: Date) -> String { format(date, separators: true, milliseconds: false) }

    /// Millisecond precision, for logs, files and parameters: `2026-11-25T18:58:56.123Z`.
    public static func isoFractional(_ date: Date) -> String { format(date, separators: true, milliseconds: true) }

    /// Basic format for names of files and ids: `20261125T185856Z`.
    public static func compact(_ date: Date) -> String { format(date, separators: false, milliseconds: false) }

    /// Milliseconds since 1970, truncated, as clocks are read. A parsed `.995` is 0.99499999… seconds: within a
    /// microsecond below a millisecond counts as on it, or every such value would be written back 1 ms early.
    public static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000 + 0.001).rounded(.down)) }

    private static func format(_ date: Date, separators: Bool, milliseconds: Bool) -> String {
        let total = Self.milliseconds(date)
        let fraction = Int32(((total % 1000) + 1000) % 1000)
        var seconds = milliseconds ? time_t((total - Int64(fraction)) / 1000) : time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        let (dash, colon) = separators ? ("-", ":") : ("", "")
        var text = pad(parts.tm_year + 1900, 4) + dash + pad(parts.tm_mon + 1, 2) + dash + pad(parts.tm_mday, 2)
        text += "T" + pad(parts.tm_hour, 2) + colon + pad(parts.tm_min, 2) + colon + pad(parts.tm_sec, 2)
        if milliseconds { text += "." + pad(fraction, 3) }
        return text + "Z"
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
