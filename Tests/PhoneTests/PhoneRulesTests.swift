import Phone
import Testing

/// The two modes of `phone_validation`, on numbers whose verdict the metadata's age decides.
@Suite struct PhoneRulesTests {
    /// A Senegalese mobile number from the +221 71 range, valid by current numbering-plan metadata (the
    /// `phonenumbers` package, 9.0.43) and unknown to Debian's libphonenumber 8.12.57.
    static let newSenegaleseMobile = "+221710756589"
    static let override = PhoneRules(mode: .ranges, extraRanges: [PhoneRange(prefix: "+22171", lengths: [12])])

    enum Verdict: Equatable { case accepted(PhoneAcceptance), refused }

    static let cases: [(String, String, Verdict, Verdict)] = [
        // input, region, in `ranges` mode, in `length` mode
        ("+33612345678", "FR", .accepted(.ranges), .accepted(.ranges)),            // valid by any metadata
        ("06 12 34 56 78", "FR", .accepted(.ranges), .accepted(.ranges)),
        ("+221 77 234 56 78", "FR", .accepted(.ranges), .accepted(.ranges)),
        (newSenegaleseMobile, "FR", .refused, .accepted(.lengthOnly)),              // a range opened after the metadata
        ("+2217107565", "FR", .refused, .refused),                                   // impossible length
        ("+22171075658912", "FR", .refused, .refused),
        ("+999123456789", "FR", .refused, .refused),                                 // unknown country code
        ("+0612345678", "FR", .refused, .refused),
        ("112", "FR", .refused, .refused),                                           // short codes
        ("3644", "FR", .refused, .refused),
        ("36 65", "FR", .refused, .refused),
        ("+1 800 FLOWERS", "US", .refused, .refused),                               // letters
        ("06 12 AB 56 78", "FR", .refused, .refused),
        ("00 00 00 00 00", "FR", .refused, .refused),                                // a trunk prefix inside the number
        ("+33 0 12 34 56 78", "FR", .refused, .refused),
    ]

    func verdict(_ input: String, _ region: String, _ rules: PhoneRules) -> Verdict {
        switch PhoneNumber.check(input, defaultRegion: region, rules: rules) {
        case .success(let accepted): .accepted(accepted.acceptance)
        case .failure: .refused
        }
    }

    @Test(arguments: cases) func eachModeGivesItsVerdict(_ input: String, _ region: String, _ ranges: Verdict, _ length: Verdict) {
        #expect(verdict(input, region, .strict) == ranges, "ranges mode")
        #expect(verdict(input, region, .standard) == length, "length mode")
    }

    @Test func operatorRangesAreAcceptedInRangesMode() throws {
        #expect(verdict(Self.newSenegaleseMobile, "FR", Self.override) == .accepted(.operatorRange))
        // Only the declared lengths.
        #expect(verdict("+2217107565891", "FR", Self.override) == .refused)
        #expect(try PhoneNumber.parse(Self.newSenegaleseMobile, defaultRegion: "FR", rules: Self.override).get().e164 == Self.newSenegaleseMobile)
    }

    @Test func theSameNumberNormalisesAlikeInEveryForm() throws {
        for form in ["+221 71 075 65 89", "00221710756589", "+221-71-075-65-89"] {
            #expect(try PhoneNumber.parse(form, defaultRegion: "FR").get().e164 == Self.newSenegaleseMobile, "\(form)")
        }
    }
}

/// Issue 30, what to build 4: numbers as gateways write them, by policy: international without `+` and short
/// codes. The same rules run at intake, lookups and erasure, so each spelling finds the same person.
@Suite struct GatewaySpellingTests {
    static let gateway: PhoneRules = {
        var rules = PhoneRules()
        rules.internationalWithoutPlus = true
        rules.acceptShortCodes = true
        return rules
    }()

    func verdict(_ input: String, _ rules: PhoneRules, region: String = "FR") -> (String, PhoneAcceptance)? {
        guard case .success(let accepted) = PhoneNumber.check(input, defaultRegion: region, rules: rules) else { return nil }
        return (accepted.number.e164, accepted.acceptance)
    }

    @Test func digitsTooLongForANationalNumberAreReadAsInternational() throws {
        #expect(verdict("447911123456", Self.gateway)! == ("+447911123456", .internationalWithoutPlus))
        #expect(verdict("221 77 234 56 78", Self.gateway)! == ("+221772345678", .internationalWithoutPlus))
        #expect(verdict("447911123456", .standard) == nil, "refused unless the policy says so")
        // A number valid as written reads the same whatever the policy says.
        #expect(verdict("0612345678", Self.gateway)! == ("+33612345678", .ranges))
        #expect(verdict("+447911123456", Self.gateway)! == ("+447911123456", .ranges))
        #expect(verdict("0044791112345678", Self.gateway) == nil, "a leading 0 is a trunk or exit prefix, never read as international")
        #expect(verdict("44791A123456", Self.gateway) == nil)
        let cache = PhoneVerdictCache(defaultRegion: "FR", rules: Self.gateway)
        for _ in 0..<2 {
            guard case .success(let cached) = cache.check("447911123456") else { Issue.record("refused"); return }
            #expect(cached.number.e164 == "+447911123456" && cached.acceptance == .internationalWithoutPlus)
        }
    }

    @Test func shortCodesAreAcceptedAsWrittenWhenThePolicySaysSo() throws {
        #expect(verdict("36180", Self.gateway)! == ("36180", .shortCode))
        #expect(verdict("36 65", Self.gateway)! == ("3665", .shortCode))
        #expect(verdict("36180", .standard) == nil)
        #expect(verdict("12", Self.gateway) == nil && verdict("123456789012345678", Self.gateway) == nil)
        let cache = PhoneVerdictCache(defaultRegion: "FR", rules: Self.gateway)
        for _ in 0..<2 {
            guard case .success(let cached) = cache.check("36180") else { Issue.record("refused"); return }
            #expect(cached.number.e164 == "36180" && cached.acceptance == .shortCode)
        }
    }
}
