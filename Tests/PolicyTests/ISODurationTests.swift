import Policy
import Testing

@Suite struct ISODurationTests {
    @Test(arguments: [
        ("P6M", ISODuration(months: 6)), ("P30D", ISODuration(days: 30)), ("P1Y", ISODuration(months: 12)),
        ("P2W", ISODuration(days: 14)), ("P1M15D", ISODuration(months: 1, days: 15)), ("PT12H", ISODuration(seconds: 43200)),
        ("p3m", ISODuration(months: 3)), ("P1DT1H30M5S", ISODuration(days: 1, seconds: 5405)),
    ])
    func parses(_ text: String, _ expected: ISODuration) {
        #expect((try? ISODuration.parse(text).get()) == expected)
    }

    @Test(arguments: ["", "P", "6M", "P6", "PT", "P1H", "P-1M", "-P1M", "P1M1M", "P1.5M", "P6 M", "P9999999D"])
    func refusesMalformed(_ text: String) {
        #expect(ISODuration.parse(text) == .failure(.malformed))
    }

    @Test(arguments: ["P0D", "P0M", "PT0S", "P0Y0M0D"])
    func refusesZero(_ text: String) {
        #expect(ISODuration.parse(text) == .failure(.notPositive))
    }

    @Test(arguments: ["P6M", "P5M", "P1M", "P30D", "P180D", "P181D", "P25W", "P4M", "PT1H", "P5M20D"])
    func withinCeiling(_ text: String) throws {
        #expect(try ISODuration.retention(text).get().neverExceeds(.ceiling))
    }

    @Test(arguments: ["P7M", "P1Y", "P6M1D", "P6MT1S", "P182D", "P26W", "P5M30D", "P0D", "banana"])
    func retentionRefusesAnythingLongerOrInvalid(_ text: String) {
        guard case .failure(let error) = ISODuration.retention(text) else {
            Issue.record("\(text) should be refused")
            return
        }
        #expect(error.code.rawValue == 65)
    }

    @Test func ceilingMessageSaysWhy() {
        guard case .failure(let error) = ISODuration.retention("P7M") else {
            Issue.record("P7M accepted")
            return
        }
        #expect(error.message == "P7M exceeds the 6-month ceiling")
    }

    @Test(arguments: [("P6M", "P6M"), ("P12M", "P1Y"), ("P2W", "P14D"), ("PT90M", "PT1H30M")])
    func canonicalText(_ text: String, _ canonical: String) throws {
        #expect(try ISODuration.parse(text).get().description == canonical)
    }
}
