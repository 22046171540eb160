import Foundation

/// A calendar month in UTC: the unit of Lethe's range partitions.
public struct Month: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    /// 1...12
    public let month: Int

    public init(year: Int, month: Int) {
        let zeroBased = year * 12 + (month - 1)
        self.year = zeroBased >= 0 ? zeroBased / 12 : (zeroBased - 11) / 12
        self.month = zeroBased - self.year * 12 + 1
    }

    /// The month containing `date`, in UTC.
    public init(containing date: Date) {
        let days = Int((date.timeIntervalSince1970 / 86400).rounded(.down))
        let civil = Month.civil(fromDays: days)
        self.init(year: civil.year, month: civil.month)
    }

    /// Parses `YYYY-MM`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), (1...12).contains(month) else { return nil }
        self.init(year: year, month: month)
    }

    public func adding(months: Int) -> Month { Month(year: year, month: month + months) }
    public var next: Month { adding(months: 1) }

    /// First instant of the month, UTC.
    public var start: Date {
        Date(timeIntervalSince1970: Double(Month.days(year: year, month: month, day: 1)) * 86400)
    }

    /// First instant of the next month, UTC: the exclusive upper bound of this month's partition.
    public var end: Date { next.start }

    public var description: String { String(format: "%04d-%02d", year, month) }
    /// `2026_11`, for partition names.
    public var suffix: String { String(format: "%04d_%02d", year, month) }

    public static func < (lhs: Month, rhs: Month) -> Bool { (lhs.year, lhs.month) < (rhs.year, rhs.month) }

    /// Months from `lower` through `upper`, inclusive.
    public static func range(_ lower: Month, through upper: Month) -> [Month] {
        var months: [Month] = []
        var month = lower
        while month <= upper {
            months.append(month)
            month = month.next
        }
        return months
    }

    /// Days since 1970-01-01 (proleptic Gregorian), after H. Hinnant.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
