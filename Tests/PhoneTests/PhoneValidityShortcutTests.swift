import Foundation
@testable import Phone
import Testing

/// The shim answers libphonenumber's IsValidNumber in fewer regex matches (types tried mobile first, matchers kept
/// per thread). The answer must be libphonenumber's own, for every region, on valid and invalid numbers alike.
@Suite struct PhoneValidityShortcutTests {
    static let regions: [String] = {
        let letters = (UInt8(ascii: "A")...UInt8(ascii: "Z")).map { String(UnicodeScalar($0)) }
        return letters.flatMap { first in letters.map { first + $0 } }.filter { PhoneNumber.isSupported(region: $0) }
    }()

    enum Verdict: Equatable { case accepted(String, PhoneAcceptance), refused(PhoneNumber.Problem) }

    static func verdict(_ input: String, _ region: String, _ rules: PhoneRules, shortcut: Bool) -> Verdict {
        switch PhoneNumber.check(input, defaultRegion: region, rules: rules, validityShortcut: shortcut) {
        case .success(let accepted): .accepted(accepted.number.e164, accepted.acceptance)
        case .failure(let problem): .refused(problem)
        }
    }

    /// Random numbers per region: 120 in `make test` (about 60,000 comparisons, a thousand valid numbers); `make fuzz`
    /// runs the same test with LETHE_PHONE_SAMPLES=2000.
    static let samples = ProcessInfo.processInfo.environment["LETHE_PHONE_SAMPLES"].flatMap(Int.init) ?? 120

    @Test func everyRegionGetsLibphonenumbersOwnVerdict() {
        #expect(Self.regions.count > 200)
        var seed: UInt64 = 17
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(seed >> 33) % bound
        }
        var compared = 0, valid = 0, differences: [String] = [], regionsWithValid = Set<String>()
        for region in Self.regions {
            for sample in 0..<Self.samples {
                // National numbers of 5 to 14 digits, a quarter with a leading 0 (most trunk prefixes); one in
                // eight international, with a random country code.
                let length = 5 + next(10)
                var digits = (0..<length).map { _ in String(next(10)) }.joined()
                if sample % 4 == 0 { digits = "0" + digits.dropFirst() }
                let input = sample % 8 == 7 ? "+" + digits : digits
                for rules in [PhoneRules.strict, .standard] {
                    let expected = Self.verdict(input, region, rules, shortcut: false)
                    let got = Self.verdict(input, region, rules, shortcut: true)
                    compared += 1
                    if case .accepted(_, .ranges) = expected {
                        valid += 1
                        regionsWithValid.insert(region)
                    }
                    if got != expected && differences.count < 5 { differences.append("\(region) sample \(sample) (\(rules.mode))") }
                }
            }
        }
        #expect(differences.isEmpty, "verdicts differ: \(differences)")
        // Not vacuous: thousands of the random numbers are valid, in most regions.
        #expect(valid > compared / 40 && regionsWithValid.count > Self.regions.count / 2,
                "\(valid) valid of \(compared), in \(regionsWithValid.count) regions of \(Self.regions.count)")
    }
}
