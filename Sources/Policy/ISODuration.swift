import LetheCore

/// An ISO-8601 duration (`P6M`, `P30D`, `P1Y2M`, `PT12H`, `P2W`). Calendar parts (years, months, days)
/// keep their calendar meaning: PostgreSQL's interval arithmetic applies them at the database clock.
public struct ISODuration: Hashable, Sendable, CustomStringConvertible {
    public var months: Int
    public var days: Int
    public var seconds: Int

    public init(months: Int = 0, days: Int = 0, seconds: Int = 0) {
        self.months = months
        self.days = days
        self.seconds = seconds
    }

    /// The ceiling no retention may exceed: six months.
    public static let ceiling = ISODuration(months: 6)

    public enum ParseError: Error, Equatable, Sendable {
        case malformed
        case notPositive
    }

    public static func parse(_ text: String) -> Result<ISODuration, ParseError> {
        let upper = Array(text.uppercased().utf8)
        guard upper.first == UInt8(ascii: "P"), upper.count >= 3 else { return .failure(.malformed) }
        var duration = ISODuration()
        var inTime = false
        var digits: [UInt8] = []
        var seenDesignators = Set<String>()
        for c in upper.dropFirst() {
            if c >= 0x30 && c <= 0x39 {
                digits.append(c)
                continue
            }
            if c == UInt8(ascii: "T") {
                guard !inTime, digits.isEmpty else { return .failure(.malformed) }
                inTime = true
                continue
            }
            guard !digits.isEmpty, digits.count <= 6, let value = Int(String(decoding: digits, as: UTF8.self)) else { return .failure(.malformed) }
            digits = []
            let key = (inTime ? "T" : "") + String(UnicodeScalar(c))
            guard seenDesignators.insert(key).inserted else { return .failure(.malformed) }
            switch (inTime, c) {
            case (false, UInt8(ascii: "Y")): duration.months += value * 12
            case (false, UInt8(ascii: "M")): duration.months += value
            case (false, UInt8(ascii: "W")): duration.days += value * 7
            case (false, UInt8(ascii: "D")): duration.days += value
            case (true, UInt8(ascii: "H")): duration.seconds += value * 3600
            case (true, UInt8(ascii: "M")): duration.seconds += value * 60
            case (true, UInt8(ascii: "S")): duration.seconds += value
            default: return .failure(.malformed)
            }
        }
        guard digits.isEmpty, upper.last != UInt8(ascii: "T") else { return .failure(.malformed) }
        guard duration.months > 0 || duration.days > 0 || duration.seconds > 0 else { return .failure(.notPositive) }
        return .success(duration)
    }

    /// The longest this duration can last on the calendar (months of 31 days), in seconds.
    public var longestSeconds: Int { months * 31 * 86400 + days * 86400 + seconds }
    /// The shortest (months of 28 days).
    public var shortestSeconds: Int { months * 28 * 86400 + days * 86400 + seconds }

    /// True when this duration can never be longer than `other`, wherever on the calendar both start.
    /// P6M fits P6M; P180D fits P6M (six months are at least 181 days); P182D and P5M30D do not.
    public func neverExceeds(_ other: ISODuration) -> Bool {
        if months == other.months { return days * 86400 + seconds <= other.days * 86400 + other.seconds }
        return longestSeconds <= other.shortestSecondsAcrossCalendar
    }

    /// The shortest span `self` covers on a real calendar: six consecutive months are at least 181 days.
    var shortestSecondsAcrossCalendar: Int {
        let shortestMonthRuns = [0, 28, 59, 89, 120, 150, 181, 212, 242, 273, 303, 334, 365]
        let wholeYears = months / 12
        let rest = months % 12
        return (wholeYears * 365 + shortestMonthRuns[rest] + days) * 86400 + seconds
    }

    /// Canonical ISO-8601 text, also accepted by PostgreSQL as an interval literal.
    public var description: String {
        var text = "P"
        if months >= 12 && months % 12 == 0 { text += "\(months / 12)Y" } else if months > 0 { text += "\(months)M" }
        if days > 0 { text += "\(days)D" }
        if seconds > 0 {
            text += "T"
            let hours = seconds / 3600, minutes = (seconds % 3600) / 60, secs = seconds % 60
            if hours > 0 { text += "\(hours)H" }
            if minutes > 0 { text += "\(minutes)M" }
            if secs > 0 { text += "\(secs)S" }
        }
        return text == "P" ? "PT0S" : text
    }

    /// For people: "6 months", "30 days", "1 month and 15 days".
    public var humanDescription: String {
        func unit(_ n: Int, _ name: String) -> String? { n > 0 ? "\(n) \(name)\(n == 1 ? "" : "s")" : nil }
        let parts = [unit(months, "month"), unit(days, "day"), unit(seconds / 3600, "hour"), unit((seconds % 3600) / 60, "minute"), unit(seconds % 60, "second")]
            .compactMap { $0 }
        guard let last = parts.last else { return "0 seconds" }
        return parts.count == 1 ? last : parts.dropLast().joined(separator: ", ") + " and " + last
    }

    /// Parses a retention period: positive and never longer than the six-month ceiling.
    /// The reason text names the value (a period is not personal data) and the rule.
    public static func retention(_ text: String) -> Result<ISODuration, LetheError> {
        switch parse(text) {
        case .failure(.malformed):
            return .failure(.dataError("'\(text.prefix(40))' is not an ISO-8601 duration", hint: "write e.g. P6M, P90D, P1M15D or P4W"))
        case .failure(.notPositive):
            return .failure(.dataError("'\(text.prefix(40))' is not a positive period", hint: "a retention period must be longer than zero"))
        case .success(let duration) where !duration.neverExceeds(.ceiling):
            return .failure(.dataError("\(text) exceeds the 6-month ceiling",
                                       hint: "retention can only be shortened: use P6M or less (at most P181D in days)"))
        case .success(let duration):
            return .success(duration)
        }
    }
}
