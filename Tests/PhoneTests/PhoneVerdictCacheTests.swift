import Dispatch
import Foundation
import Phone
import Testing

/// The import's shared verdict cache gives libphonenumber's verdict, whichever thread asks and however often.
@Suite struct PhoneVerdictCacheTests {
    enum Verdict: Equatable { case accepted(String, PhoneAcceptance), refused(PhoneNumber.Problem) }

    static func verdict(_ result: PhoneVerdictCache.Verdict) -> Verdict {
        switch result {
        case .success(let accepted): .accepted(accepted.number.e164, accepted.acceptance)
        case .failure(let problem): .refused(problem)
        }
    }

    /// Inputs from the phone suites (valid, invalid, each acceptance) and a block of national mobile numbers.
    static let inputs: [String] = PhoneNumberTests.valid.map(\.0) + PhoneNumberTests.invalid.map(\.0)
        + PhoneRulesTests.cases.map(\.0) + ["+2217107565891", "", " ", "+", "0", "+33 6 12 34 56 78 ext. 12", "٠٦١٢٣٤٥٦٧٨"]
        + (0..<2_000).map { "0612" + String(100_000 + $0 * 37) }

    @Test(arguments: [("FR", PhoneRules.standard), ("FR", PhoneRules.strict), ("FR", PhoneRulesTests.override), ("US", .standard), ("ZZ", .standard)])
    func givesTheVerdictOfAFreshCheckOnFirstAndLaterLookups(_ region: String, _ rules: PhoneRules) {
        // A small cache, so that shards fill and are emptied during the run.
        let cache = PhoneVerdictCache(defaultRegion: region, rules: rules, capacity: 1_024)
        for pass in 0..<3 {
            for input in Self.inputs {
                let expected = Self.verdict(PhoneNumber.check(input, defaultRegion: region, rules: rules))
                #expect(Self.verdict(cache.check(input)) == expected, "pass \(pass), \(region)")
            }
        }
    }

    @Test func threadsSharingTheCacheGetTheSameVerdicts() {
        let cache = PhoneVerdictCache(defaultRegion: "FR", rules: .standard)
        let expected = Self.inputs.map { Self.verdict(PhoneNumber.check($0, defaultRegion: "FR", rules: .standard)) }
        let mismatches = MismatchCount()
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for round in 0..<3 {
                for index in Self.inputs.indices.shuffled() where Self.verdict(cache.check(Self.inputs[index])) != expected[index] {
                    mismatches.add(thread * 10 + round)
                }
            }
        }
        #expect(mismatches.count == 0)
    }
}

private final class MismatchCount: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_: Int) { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}
