import Foundation
import LetheCore
import Phone

/// Checks one record's fields: E.164 phone, non-empty UTF-8 message within the segment limit, a
/// sent_at that is neither in the future nor already past retention.
struct RowValidator {
    let kind: IntakeKind
    let maxSegments: Int
    /// Bounds for sent_at: not after `latest` (the database clock), not before `earliest` (the customer's cutoff).
    let earliest: Date
    let latest: Date
    /// Numbers recur (an address book messaged again and again): each distinct input is parsed once, by whichever
    /// worker meets it first. The cache holds the default region and the policy's phone rules.
    let phones: PhoneVerdictCache
    let timestamps = ISOTimestampParser()

    struct ValidRow {
        let phone: PhoneNumber
        /// How the number was accepted (by its length only, written without `+`, a short code...), for the report.
        let phoneAcceptance: PhoneAcceptance
        let message: String?
        let name: String?
        let sentAt: Date?
        let encoding: SMSEncoding?
    }


    func validate(_ record: InputRecord) -> Result<ValidRow, ImportReport.LineProblem> {
        func problem(_ field: String, _ reason: String) -> Result<ValidRow, ImportReport.LineProblem> {
            .failure(.init(line: record.line, field: field, reason: reason))
        }
        guard let rawPhone = record.fields["phone"], !Self.isBlank(rawPhone) else { return problem("phone", "missing") }
        let phone: PhoneNumber
        let acceptance: PhoneAcceptance
        switch phones.check(rawPhone) {
        case .success(let verdict):
            phone = verdict.number
            acceptance = verdict.acceptance
        case .failure(let reason): return problem("phone", reason.rawValue)
        }
        switch kind {
        case .contacts:
            let name = record.fields["name"].flatMap { $0.isEmpty ? nil : $0 }
            if let name, name.utf8.count > 1000 { return problem("name", "longer than 1000 bytes") }
            if let name, let control = Self.controlCharacter(in: name) { return problem("name", "contains the control character \(control)") }
            return .success(ValidRow(phone: phone, phoneAcceptance: acceptance, message: nil, name: name, sentAt: nil, encoding: nil))
        case .messages:
            guard let message = record.fields["message"], !message.isEmpty else { return problem("message", "empty") }
            if let control = Self.controlCharacter(in: message) {
                return problem("message", "contains the control character \(control), which no SMS can carry")
            }
            let encoding = SMSEncoding(text: message)
            if encoding.segments > maxSegments {
                return problem("message", "\(encoding.segments) segments (\(encoding.alphabet.rawValue)), above the policy's maximum of \(maxSegments)")
            }
            var sentAt: Date?
            if let text = record.fields["sent_at"], !text.isEmpty {
                guard let date = timestamps.parse(text) else {
                    return problem("sent_at", "not an ISO-8601 timestamp with a UTC offset (e.g. 2026-11-20T09:30:00Z)")
                }
                if date > latest { return problem("sent_at", "in the future") }
                if date < earliest { return problem("sent_at", "older than the customer's retention period: it would be purged at once") }
                sentAt = date
            }
            return .success(ValidRow(phone: phone, phoneAcceptance: acceptance, message: message, name: nil, sentAt: sentAt, encoding: encoding))
        }
    }
}

extension RowValidator {
    /// Empty or only whitespace as `CharacterSet.whitespaces` documents it (tab and the space separators, Zs),
    /// without Foundation's trimming: it went through NSString, took a twelfth of the import's CPU, and whether it
    /// trimmed a zero-width space (U+200B, a format character) differed between runs of the test suite.
    static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0 == " " || $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }
    }

    /// The first control character other than line feed and carriage return (which GSM-7 has), as `U+0000`:
    /// NUL and its kin are in no SMS alphabet, and no downstream tool expects them. Names the code point only.
    static func controlCharacter(in text: String) -> String? {
        // On the UTF-8 bytes: C0 controls and DEL are single bytes, C1 controls (U+0080–U+009F) are C2 80–C2 9F,
        // and no other character's encoding contains those bytes in those places.
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if (byte < 0x20 && byte != 0x0A && byte != 0x0D) || byte == 0x7F {
                return String(format: "U+%04X", UInt32(byte))
            }
            if previous == 0xC2 && (0x80...0x9F).contains(byte) {
                return String(format: "U+%04X", UInt32(byte))
            }
            previous = byte
        }
        return nil
    }
}
