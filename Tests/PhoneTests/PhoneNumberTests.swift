import Phone
import Testing

@Suite struct PhoneNumberTests {
    static let valid: [(String, String, String)] = [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", "FR", "+33612345678"),
        ("0033 6 12 34 56 78", "FR", "+33612345678"),
        ("+33 (0)1 42 68 53 00", "FR", "+33142685300"),
        ("01.42.68.53.00", "FR", "+33142685300"),
        ("+33612345678", "DE", "+33612345678"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("+1 650-253-0000", "FR", "+16502530000"),
        ("020 7031 3000", "GB", "+442070313000"),
        ("07400 123456", "GB", "+447400123456"),
        ("030 123456", "DE", "+4930123456"),
        ("+49 1512 3456789", "FR", "+4915123456789"),
        ("06 12345678", "NL", "+31612345678"),
        ("+34 612 34 56 78", "FR", "+34612345678"),
        ("090-1234-5678", "JP", "+819012345678"),
        ("0412 345 678", "AU", "+61412345678"),
        ("+55 11 91234-5678", "FR", "+5511912345678"),
        ("+91 98765 43210", "FR", "+919876543210"),
        ("+39 312 345 6789", "FR", "+393123456789"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("078 123 45 67", "CH", "+41781234567"),
        ("612345678", "es", "+34612345678"),
    ]

    static let invalid: [(String, String, PhoneNumber.Problem)] = [
        ("12", "FR", .invalidNumber),
        ("hello", "FR", .notANumber),
        ("", "FR", .notANumber),
        ("+999 1234567", "FR", .invalidCountryCode),
        ("06 12 34 56 78", "ZZ", .invalidCountryCode),
        ("06 12 34 56 78 90 12 34 56 78", "FR", .tooLong),
        ("+33 0 12 34 56 78", "FR", .invalidNumber),
        ("00 00 00 00 00", "FR", .invalidNumber),
        ("06 12 34 56 78", "XX", .unknownRegion),
    ]

    @Test(arguments: valid) func normalisesToE164(_ input: String, _ region: String, _ expected: String) {
        #expect((try? PhoneNumber.parse(input, defaultRegion: region).get())?.e164 == expected)
    }

    @Test(arguments: invalid) func refusesInvalid(_ input: String, _ region: String, _ problem: PhoneNumber.Problem) {
        for rules in [PhoneRules.strict, .standard] {
            guard case .failure(let found) = PhoneNumber.parse(input, defaultRegion: region, rules: rules) else {
                Issue.record("expected a refusal in \(rules.mode) mode")
                continue
            }
            #expect(found == problem)
        }
    }

    @Test func descriptionIsRedacted() throws {
        let number = try PhoneNumber(parsing: "06 12 34 56 78", defaultRegion: "FR")
        #expect("\(number)" == "<phone number>")
        #expect(!String(reflecting: number).contains("612"))
    }

    @Test func errorsNameTheProblemNotTheNumber() {
        do {
            _ = try PhoneNumber(parsing: "+33 0 12 34 56 78", defaultRegion: "FR")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.message.contains("not a valid number"))
            #expect(!error.description.contains("12 34"))
            #expect(error.code.rawValue == 65)
        }
    }
}
