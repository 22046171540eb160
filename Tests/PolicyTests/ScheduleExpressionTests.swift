import Foundation
import LetheCore
import Policy
import Testing

@Suite struct ScheduleExpressionTests {
    func at(_ text: String) -> Date { Date(timeIntervalSince1970: PostgresLikeTime.parse(text)) }

    func parse(_ text: String) throws -> ScheduleExpression { try ScheduleExpression.parse(text).get() }

    @Test func dailyAfterMidnight() throws {
        let purge = try parse("5 0 * * *")
        #expect(purge.next(after: at("2026-11-26 00:04:59")) == at("2026-11-26 00:05:00"))
        #expect(purge.next(after: at("2026-11-26 00:05:00")) == at("2026-11-27 00:05:00"))
        #expect(purge.previous(atOrBefore: at("2026-11-26 00:05:00")) == at("2026-11-26 00:05:00"))
        #expect(purge.previous(atOrBefore: at("2026-11-26 00:04:00")) == at("2026-11-25 00:05:00"))
        #expect(purge.period(at: at("2026-11-26 12:00:00")) == 86_400)
    }

    @Test func listsRangesStepsAndWeekdays() throws {
        let every15 = try parse("*/15 9-17 * * 1-5")
        // 2026-11-28 is a Saturday: the next slot is Monday 09:00.
        #expect(every15.next(after: at("2026-11-27 17:45:00")) == at("2026-11-30 09:00:00"))
        #expect(every15.next(after: at("2026-11-30 09:00:00")) == at("2026-11-30 09:15:00"))
        let sunday = try parse("0 3 * * 7")
        #expect(sunday.next(after: at("2026-11-26 00:00:00")) == at("2026-11-29 03:00:00"))
        // Both day fields restricted: either matches (cron's rule).
        let either = try parse("0 0 1 * 1")
        #expect(either.next(after: at("2026-11-26 00:00:00")) == at("2026-11-30 00:00:00"))
        #expect(either.next(after: at("2026-11-30 00:00:00")) == at("2026-12-01 00:00:00"))
        let leap = try parse("0 0 29 2 *")
        #expect(leap.next(after: at("2026-11-26 00:00:00")) == at("2028-02-29 00:00:00"))
    }

    /// Month and weekday names, as cron and pg_cron accept them: the same slots as the numbers (issue 29).
    @Test(arguments: [("0 3 * * sun", "0 3 * * 0"), ("*/15 9-17 * * MON-fri", "*/15 9-17 * * 1-5"), ("0 0 1 jan,jul *", "0 0 1 1,7 *"),
                      ("30 2 * mar-may sat", "30 2 * 3-5 6")])
    func namesAreTheirNumbers(_ named: String, _ numbered: String) throws {
        var date = at("2026-11-26 00:00:00")
        for _ in 0..<5 {
            let next = try #require(try parse(named).next(after: date))
            #expect(next == (try parse(numbered).next(after: date)), "\(named) vs \(numbered)")
            date = next
        }
        #expect(throws: LetheError.self) { try parse("0 0 * * funday") }
        #expect(throws: LetheError.self) { try parse("0 0 * sun *") }
    }

    @Test func secondsFormSharesSlotsAcrossWorkers() throws {
        let two = try parse("2 seconds")
        #expect(two.next(after: at("2026-11-26 00:00:01")) == at("2026-11-26 00:00:02"))
        #expect(two.previous(atOrBefore: at("2026-11-26 00:00:03.5")) == at("2026-11-26 00:00:02"))
        #expect(two.period(at: at("2026-11-26 00:00:03")) == 2)
        #expect(try parse("off").next(after: at("2026-11-26 00:00:00")) == nil)
    }

    @Test(arguments: ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "0 seconds", "60 seconds",
                      "5-1 * * * *", "*/0 * * * *", "a b c d e", "5/2 * * * *", "1,,2 * * * *"])
    func badExpressionsAreRefused(_ text: String) {
        #expect(throws: LetheError.self) { try ScheduleExpression.parse(text).get() }
    }

    @Test func policyCheckNamesTheLineAndKey() throws {
        let yaml = try String(contentsOfFile: packageRoot().appendingPathComponent("Policies/default.yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "purge: \"5 0 * * *\"", with: "purge: \"5 0 * *\"")
        do {
            _ = try PolicyLoader.parse(yaml: yaml, source: "p.yaml")
            Issue.record("expected a refusal")
        } catch {
            let line = yaml.components(separatedBy: "\n").firstIndex { $0.contains("purge: \"5 0 * *\"") }! + 1
            #expect(error.message.contains("p.yaml:\(line): schedule.purge:"))
            #expect(error.code == .dataError)
        }
        let policy = try PolicyLoader.parse(yaml: yaml.replacingOccurrences(of: "purge: \"5 0 * *\"", with: "purge: \"30 seconds\""), source: "p.yaml")
        #expect(policy.schedule[.purge]?.description == "30 seconds")
        #expect(policy.schedule[.backup]?.description == "30 1 * * *")
    }

    func packageRoot() -> URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { directory.deleteLastPathComponent() }
        return directory
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` in UTC, for readable test cases.
enum PostgresLikeTime {
    static func parse(_ text: String) -> Double {
        let parts = text.split(separator: " ")
        let day = UTCDay(parsing: String(parts[0]))!
        let time = parts[1].split(separator: ":").map { Double($0)! }
        return day.start.timeIntervalSince1970 + time[0] * 3600 + time[1] * 60 + time[2]
    }
}
