import Phone
import Policy

extension RetentionPolicy {
    /// The policy's `phone_validation` and `phone_ranges` as the rules intake and lookups apply, so a number
    /// accepted at intake is normalised the same way when a DPO looks the person up.
    public var phoneRules: PhoneRules {
        var rules = PhoneRules(mode: phoneValidation.mode == .ranges ? .ranges : .length,
                               extraRanges: phoneValidation.ranges.map { PhoneRange(prefix: $0.prefix, lengths: Set($0.lengths)) })
        rules.internationalWithoutPlus = phoneValidation.internationalWithoutPlus
        rules.acceptShortCodes = phoneValidation.acceptShortCodes
        return rules
    }
}
