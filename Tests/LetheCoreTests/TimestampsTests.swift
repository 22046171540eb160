import Foundation
import LetheCore
import Testing

@Suite struct TimestampsTests {
    @Test func formatsInUTCAtEachPrecision() {
        let date = Date(timeIntervalSince1970: 1_795_633_136.1239)  // 2026-11-25T18:58:56.1239Z
        #expect(Timestamps.iso(date) == "2026-11-25T18:58:56Z")
        #expect(Timestamps.isoFractional(date) == "2026-11-25T18:58:56.123Z")
        #expect(Timestamps.compact(date) == "20261125T185856Z")
        #expect(Timestamps.isoFractional(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        #expect(Timestamps.iso(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }

    @Test func formattedTimestampsParseBack() {
        for seconds in [0.0, 1_795_643_936.5, 4_102_444_799.25] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamps.parseISO(Timestamps.isoFractional(date)) == date)
            #expect(Timestamps.parseISO(Timestamps.iso(date)) == Date(timeIntervalSince1970: seconds.rounded(.down)))
        }
    }

    /// Every millisecond a file can give survives parsing and formatting: `.995` parses to 0.99499999… seconds,
    /// which plain truncation wrote back as `.994`. A value further below stays truncated, as clocks are read.
    @Test func parsedMillisecondsAreWrittenBackUnchanged() throws {
        for millisecond in 0..<1000 {
            let text = "2026-11-21T08:00:00." + String(format: "%03d", millisecond) + "Z"
            let date = try #require(Timestamps.parseISO(text))
            #expect(Timestamps.isoFractional(date) == text)
            #expect(Timestamps.milliseconds(date) == 1_795_248_000_000 + Int64(millisecond))
        }
        #expect(Timestamps.isoFractional(Date(timeIntervalSince1970: 1_795_305_599.9996)) == "2026-11-21T23:59:59.999Z")
    }
}
