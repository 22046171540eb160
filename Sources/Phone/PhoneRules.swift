import Foundation

/// How strictly a phone number is checked. Numbering plans change every month, and the metadata compiled into
/// libphonenumber ages with the library: a number from a range opened after it is refused by `ranges`.
public struct PhoneRules: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// libphonenumber's IsValidNumber: the number lies in a range its metadata knows.
        case ranges
        /// The country code exists and the length is possible for it (IsPossibleNumber), so a number from a
        /// newly opened range is accepted. Short codes, letters, unknown country codes and impossible lengths
        /// are still refused. The default.
        case length
    }

    public var mode: Mode
    /// Operator-declared ranges the metadata lacks, accepted in every mode.
    public var extraRanges: [PhoneRange]
    /// Digits without `+` that are too long for a national number of the default region are read as international.
    public var internationalWithoutPlus = false
    /// A short code (3 to 8 digits, no `+`) is accepted as it is: a service's number, not a person's.
    public var acceptShortCodes = false

    public init(mode: Mode = .length, extraRanges: [PhoneRange] = []) {
        self.mode = mode
        self.extraRanges = extraRanges
    }

    public static let standard = PhoneRules()
    public static let strict = PhoneRules(mode: .ranges)
}

/// An E.164 prefix (`+22176`) and the total lengths, in digits after the `+`, of the numbers it opens.
public struct PhoneRange: Sendable, Equatable {
    public let prefix: String
    public let lengths: Set<Int>

    public init(prefix: String, lengths: Set<Int>) {
        self.prefix = prefix
        self.lengths = lengths
    }

    func contains(_ e164: String) -> Bool { e164.hasPrefix(prefix) && lengths.contains(e164.count - 1) }
}

/// How a number was accepted: by the metadata's ranges, by its length only, or by an operator's range.
public enum PhoneAcceptance: String, Sendable {
    case ranges
    case lengthOnly
    case operatorRange
    /// Written without its `+` (policy `phone_without_plus: international`).
    case internationalWithoutPlus
    /// A short code, kept as its digits (policy `short_codes: accept`): not a person's number.
    case shortCode
}
