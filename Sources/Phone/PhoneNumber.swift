import CPhone
import LetheCore

/// A phone number in E.164 form (`+33612345678`). Personal data: its `description` is redacted,
/// so interpolating one into a log line or error cannot leak it; use `e164` deliberately.
public struct PhoneNumber: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let e164: String

    public var description: String { "<phone number>" }
    public var debugDescription: String { description }

    /// Why an input is not a valid phone number. Says nothing of the input itself.
    public enum Problem: String, Error, Sendable, CaseIterable {
        case invalidCountryCode = "invalid or missing country code"
        case notANumber = "not a phone number"
        case tooShort = "too short"
        case tooLong = "too long"
        case invalidNumber = "not a valid number for its region"
        case unknownRegion = "unknown default region"
    }

    /// Parses a national number (read in `defaultRegion`, ISO 3166 alpha-2) or an international one, checks
    /// it under `rules` and normalises it to E.164.
    public static func parse(_ input: String, defaultRegion: String, rules: PhoneRules = .standard) -> Result<PhoneNumber, Problem> {
        check(input, defaultRegion: defaultRegion, rules: rules).map(\.number)
    }

    /// As `parse`, saying how the number was accepted (reports count the numbers accepted by length only).
    public static func check(_ input: String, defaultRegion: String, rules: PhoneRules) -> Result<(number: PhoneNumber, acceptance: PhoneAcceptance), Problem> {
        check(input, defaultRegion: defaultRegion, rules: rules, validityShortcut: true)
    }

    /// With `validityShortcut` false, validity is libphonenumber's `IsValidNumber` itself, not the shim's same
    /// answer in fewer regex matches: tests compare the two.
    static func check(_ input: String, defaultRegion: String, rules: PhoneRules,
                      validityShortcut: Bool) -> Result<(number: PhoneNumber, acceptance: PhoneAcceptance), Problem> {
        let region = defaultRegion.uppercased()
        guard region == "ZZ" || isSupported(region: region) else { return .failure(.unknownRegion) }
        return check(input, supportedRegion: region, rules: rules, validityShortcut: validityShortcut)
    }

    /// `check` in a region already checked (upper case, supported or ZZ): `PhoneVerdictCache` checks it once.
    static func check(_ input: String, supportedRegion region: String, rules: PhoneRules,
                      validityShortcut: Bool = true) -> Result<(number: PhoneNumber, acceptance: PhoneAcceptance), Problem> {
        let verdict = checkAsWritten(input, supportedRegion: region, rules: rules, validityShortcut: validityShortcut)
        guard case .failure(let problem) = verdict, rules.internationalWithoutPlus || rules.acceptShortCodes else { return verdict }
        // The gateways' spellings, only after the number failed as written, so a number that is valid as written
        // reads the same whatever the policy says; the same rules run at intake, lookups and erasure.
        let digits = input.filter { $0 != " " }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return verdict }
        if rules.internationalWithoutPlus, problem == .tooLong || problem == .invalidNumber, digits.first != "0",
           case .success(let international) = checkAsWritten("+" + digits, supportedRegion: region, rules: rules, validityShortcut: validityShortcut) {
            return .success((international.number, .internationalWithoutPlus))
        }
        if rules.acceptShortCodes, (3...8).contains(digits.count), problem == .tooShort || problem == .invalidNumber || problem == .notANumber {
            return .success((PhoneNumber(e164: digits), .shortCode))
        }
        return verdict
    }

    private static func checkAsWritten(_ input: String, supportedRegion region: String, rules: PhoneRules,
                                       validityShortcut: Bool) -> Result<(number: PhoneNumber, acceptance: PhoneAcceptance), Problem> {
        var byLength: Int32 = 0
        let (status, e164) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer -> (Int32, String) in
            buffer.initialize(repeating: 0)
            let status = lethe_phone_check(input, region, rules.mode == .length ? 1 : 0, validityShortcut ? 1 : 0,
                                           buffer.baseAddress, buffer.count, &byLength)
            buffer[buffer.count - 1] = 0
            return (status, String(cString: buffer.baseAddress!))
        }
        switch Int(status) {
        case Int(LETHE_PHONE_OK.rawValue):
            return .success((PhoneNumber(e164: e164), byLength == 1 ? .lengthOnly : .ranges))
        case Int(LETHE_PHONE_INVALID_NUMBER.rawValue):
            if rules.extraRanges.contains(where: { $0.contains(e164) }) { return .success((PhoneNumber(e164: e164), .operatorRange)) }
            return .failure(.invalidNumber)
        case Int(LETHE_PHONE_INVALID_COUNTRY_CODE.rawValue): return .failure(.invalidCountryCode)
        case Int(LETHE_PHONE_TOO_SHORT.rawValue): return .failure(.tooShort)
        case Int(LETHE_PHONE_TOO_LONG.rawValue): return .failure(.tooLong)
        default: return .failure(.notANumber)
        }
    }

    /// Parses or throws a data error that says why, never what.
    public init(parsing input: String, defaultRegion: String, rules: PhoneRules = .standard) throws(LetheError) {
        switch Self.parse(input, defaultRegion: defaultRegion, rules: rules) {
        case .success(let number): self = number
        case .failure(let problem):
            throw .dataError("invalid phone number: \(problem.rawValue)",
                             hint: problem == .unknownRegion ? "give an ISO 3166 region such as FR, DE or GB" : "write it in international form: a + and the country code, then the number")
        }
    }

    private init(e164: String) { self.e164 = e164 }

    /// For verdicts remembered by `PhoneVerdictCache`: `e164` was produced by `check`.
    init(validatedE164 e164: String) { self.e164 = e164 }

    public static func isSupported(region: String) -> Bool { lethe_phone_region_supported(region.uppercased()) == 1 }
}
