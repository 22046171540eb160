import Foundation
import LetheCore

/// When a job runs: a five-field cron expression read in UTC (`minute hour day-of-month month day-of-week`, with
/// `*`, lists, ranges and `/step`, as pg_cron writes them; day-of-week 0 or 7 is Sunday), or pg_cron's
/// `N seconds` form (1 to 59), whose slots are the multiples of N seconds since the epoch, so that every
/// worker of one database agrees on them. `off` disables a job.
public struct ScheduleExpression: Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case cron(minutes: Set<Int>, hours: Set<Int>, daysOfMonth: Set<Int>, months: Set<Int>, daysOfWeek: Set<Int>,
                  anyDayOfMonth: Bool, anyDayOfWeek: Bool)
        case seconds(Int)
        case off
    }

    let kind: Kind
    public let description: String

    public var isOff: Bool { kind == .off }

    public static func parse(_ text: String) -> Result<ScheduleExpression, LetheError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "off" { return .success(ScheduleExpression(kind: .off, description: "off")) }
        let words = trimmed.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        if words.count == 2, words[1] == "seconds" || words[1] == "second" {
            guard let n = Int(words[0]), (1...59).contains(n) else {
                return .failure(.dataError("'\(trimmed.prefix(40))': the seconds form takes 1 to 59 seconds", hint: "write e.g. '30 seconds', or a cron expression"))
            }
            return .success(ScheduleExpression(kind: .seconds(n), description: "\(n) seconds"))
        }
        guard words.count == 5 else {
            return .failure(.dataError("'\(trimmed.prefix(40))' is not a schedule",
                                       hint: "five cron fields in UTC (minute hour day-of-month month day-of-week, e.g. '5 0 * * *'), 'N seconds' or 'off'"))
        }
        let names = ["minute", "hour", "day of month", "month", "day of week"]
        let ranges = [0...59, 0...23, 1...31, 1...12, 0...7]
        var sets: [Set<Int>] = []
        // Month and weekday names (jan-dec, sun-sat, any case), as cron and pg_cron take them.
        let nameSets: [[String]?] = [nil, nil, nil, monthNames, weekdayNames]
        for (index, word) in words.enumerated() {
            guard let set = field(word, range: ranges[index], names: nameSets[index]) else {
                return .failure(.dataError("'\(trimmed.prefix(40))': the \(names[index]) field '\(word.prefix(20))' is not valid",
                                           hint: "each field is *, a number in \(ranges[index].lowerBound)-\(ranges[index].upperBound)\(nameSets[index].map { " or a name (\($0.first!)-\($0.last!))" } ?? ""), a list, a range or a /step"))
            }
            sets.append(set)
        }
        var daysOfWeek = sets[4]
        if daysOfWeek.remove(7) != nil { daysOfWeek.insert(0) }
        return .success(ScheduleExpression(kind: .cron(minutes: sets[0], hours: sets[1], daysOfMonth: sets[2], months: sets[3], daysOfWeek: daysOfWeek,
                                                       anyDayOfMonth: words[2] == "*", anyDayOfWeek: words[4] == "*"),
                                           description: words.joined(separator: " ")))
    }

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// `*`, `*/n`, `a`, `a-b`, `a-b/n`, and comma-separated lists of those; `names` spell the values from the
    /// range's lower bound on (jan = 1, sun = 0).
    private static func field(_ text: String, range: ClosedRange<Int>, names: [String]? = nil) -> Set<Int>? {
        func value(_ word: Substring) -> Int? {
            if let n = Int(word) { return n }
            guard let names, let index = names.firstIndex(of: word.lowercased()) else { return nil }
            return range.lowerBound + index
        }
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { return nil }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n > 0 else { return nil }
                step = n
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2, let low = value(bounds[0]), let high = value(bounds.last!), low <= high,
                      range.contains(low), range.contains(high) else { return nil }
                span = low...high
                if pieces.count == 2 && bounds.count == 1 { return nil }
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values.isEmpty ? nil : values
    }

    /// The first slot strictly after `date`; nil for `off`.
    public func next(after date: Date) -> Date? {
        switch kind {
        case .off: return nil
        case .seconds(let n):
            let t = Int(date.timeIntervalSince1970.rounded(.down))
            return Date(timeIntervalSince1970: Double((t / n + 1) * n))
        case .cron:
            var minute = Int((date.timeIntervalSince1970 / 60).rounded(.down)) + 1
            // A cron expression fires at least once in any four years (Feb 29 included).
            let limit = minute + 4 * 366 * 1440
            while minute < limit {
                if matchesDay(minute) {
                    if matchesTime(minute) { return Date(timeIntervalSince1970: Double(minute) * 60) }
                    minute += 1
                } else {
                    minute = (minute / 1440 + 1) * 1440
                }
            }
            return nil
        }
    }

    /// The latest slot at or before `date`; nil for `off` (or a cron expression that never fired in four years).
    public func previous(atOrBefore date: Date) -> Date? {
        switch kind {
        case .off: return nil
        case .seconds(let n):
            let t = Int(date.timeIntervalSince1970.rounded(.down))
            return Date(timeIntervalSince1970: Double((t / n) * n))
        case .cron:
            var minute = Int((date.timeIntervalSince1970 / 60).rounded(.down))
            let limit = minute - 4 * 366 * 1440
            while minute > limit {
                if matchesDay(minute) {
                    if matchesTime(minute) { return Date(timeIntervalSince1970: Double(minute) * 60) }
                    minute -= 1
                } else {
                    minute = (minute / 1440) * 1440 - 1
                }
            }
            return nil
        }
    }

    /// How late a job may run before it is overdue: its period plus a twelfth (at least a minute), a day and two
    /// hours for a daily job. `lethe status` calls a job overdue past it; `lethe inspect` calls rows overdue only
    /// once they are past their cutoff by more than this (rows cross their cutoff every second between two purges).
    public func allowedLateness(at date: Date) -> TimeInterval {
        let period = period(at: date) ?? 86_400
        return period + max(period / 12, 60)
    }

    /// The time between the slot at or before `date` and the one after it: how often the job is expected to run.
    public func period(at date: Date) -> TimeInterval? {
        guard let previous = previous(atOrBefore: date), let next = next(after: previous) else { return nil }
        return next.timeIntervalSince(previous)
    }

    private func matchesDay(_ minute: Int) -> Bool {
        guard case .cron(_, _, let daysOfMonth, let months, let daysOfWeek, let anyDayOfMonth, let anyDayOfWeek) = kind else { return false }
        let day = UTCDay(days: minute / 1440)
        let civil = day.civil
        guard months.contains(civil.month) else { return false }
        let weekday = ((day.days + 4) % 7 + 7) % 7  // 1970-01-01 was a Thursday; Sunday = 0
        let domMatch = daysOfMonth.contains(civil.day), dowMatch = daysOfWeek.contains(weekday)
        // cron's rule: when both day fields are restricted, either may match.
        if !anyDayOfMonth && !anyDayOfWeek { return domMatch || dowMatch }
        return domMatch && dowMatch
    }

    private func matchesTime(_ minute: Int) -> Bool {
        guard case .cron(let minutes, let hours, _, _, _, _, _) = kind else { return false }
        let inDay = ((minute % 1440) + 1440) % 1440
        return hours.contains(inDay / 60) && minutes.contains(inDay % 60)
    }
}

/// The jobs a worker schedules, with the policy key of each.
public enum JobName: String, Sendable, CaseIterable, Codable {
    case partitions
    case purge
    case backup
    case backupExpire = "backup_expire"
    case requestsCheck = "requests_check"
    case inspect
    /// Seals what writers other than Lethe left in clear in the policy's personal columns (`encrypt migrate
    /// --from plaintext` for each). Off unless scheduled: it needs the keyring, which the worker host does not hold.
    case encrypt

    /// `schedule:` entries the default policy does not need to spell out.
    public var defaultSchedule: String {
        switch self {
        case .partitions: "0 0 * * *"
        case .purge: "5 0 * * *"
        case .backup: "30 1 * * *"
        case .backupExpire: "30 2 * * *"
        case .requestsCheck: "0 7 * * *"
        case .inspect: "0 6 * * *"
        case .encrypt: "off"
        }
    }
}
