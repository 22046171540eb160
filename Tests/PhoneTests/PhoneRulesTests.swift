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
