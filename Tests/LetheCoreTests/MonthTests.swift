import Foundation
import LetheCore
import Testing

@Suite struct MonthTests {
    @Test func containingDateIsUTC() {
        let date = Date(timeIntervalSince1970: 1_796_083_199)  // 2026-11-30T23:59:59Z
        #expect(Month(containing: date) == Month(year: 2026, month: 11))
        #expect(Month(containing: date.addingTimeInterval(1)) == Month(year: 2026, month: 12))
    }

    @Test func arithmeticWrapsYears() {
        #expect(Month(year: 2026, month: 11).adding(months: 3) == Month(year: 2027, month: 2))
        #expect(Month(year: 2026, month: 1).adding(months: -1) == Month(year: 2025, month: 12))
        #expect(Month(year: 2026, month: 3).adding(months: -15) == Month(year: 2024, month: 12))
    }

    @Test func boundsAreMonthStarts() {
        let february = Month(year: 2024, month: 2)
        #expect(february.end.timeIntervalSince(february.start) == 29 * 86400)
        #expect(Timestamps.iso(february.start) == "2024-02-01T00:00:00Z")
    }

    @Test(arguments: ["2026-11", "1999-01"]) func parsesYearMonth(_ text: String) {
        #expect(Month(parsing: text)?.description == text)
    }

    @Test(arguments: ["2026-13", "2026-1", "26-11", "nov"]) func refusesMalformed(_ text: String) {
        #expect(Month(parsing: text) == nil)
    }

    @Test func rangeIsInclusive() {
        let months = Month.range(Month(year: 2026, month: 11), through: Month(year: 2027, month: 2))
        #expect(months.map(\.description) == ["2026-11", "2026-12", "2027-01", "2027-02"])
    }
}
