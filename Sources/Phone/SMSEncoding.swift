/// How an SMS text is sent: GSM-7 when every character is in the GSM 03.38 alphabet (extension characters
/// take two septets), UCS-2 otherwise; and how many segments it takes (160/153 septets, 70/67 UTF-16 units).
/// A two-septet character or a surrogate pair is never split across segments, as handsets do.
public struct SMSEncoding: Sendable, Equatable {
    public enum Alphabet: String, Sendable {
        case gsm7, ucs2
    }

    public let alphabet: Alphabet
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    public let units: Int
    public let segments: Int

    public init(text: String) {
        var septets: [Int] = []
        septets.reserveCapacity(text.utf8.count)
        var isGSM = true
        for scalar in text.unicodeScalars {
            if scalar.value < 0x80 {
                // ASCII fast path: most message text.
                let width = Self.asciiWidths[Int(scalar.value)]
                guard width > 0 else {
                    isGSM = false
                    break
                }
                septets.append(width)
            } else if Self.basic.contains(scalar) {
                septets.append(1)
            } else if Self.extended.contains(scalar) {
                septets.append(2)
            } else {
                isGSM = false
                break
            }
        }
        if isGSM {
            self.init(alphabet: .gsm7, widths: septets, single: 160, multi: 153)
        } else {
            self.init(alphabet: .ucs2, widths: text.unicodeScalars.map { $0.value > 0xFFFF ? 2 : 1 }, single: 70, multi: 67)
        }
    }

    private init(alphabet: Alphabet, widths: [Int], single: Int, multi: Int) {
        self.alphabet = alphabet
        units = widths.reduce(0, +)
        guard units > single else {
            segments = 1
            return
        }
        var count = 1, used = 0
        for width in widths {
            if used + width > multi {
                count += 1
                used = 0
            }
            used += width
        }
        segments = count
    }

    /// GSM 03.38 default alphabet (without the escape character).
    static let basic: Set<Unicode.Scalar> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà".unicodeScalars)
    /// Septets of each ASCII character: 1 (basic), 2 (extension) or 0 (not in GSM-7, such as the backtick).
    static let asciiWidths: [Int] = (0..<128).map { value in
        let scalar = Unicode.Scalar(UInt8(value))
        return basic.contains(scalar) ? 1 : extended.contains(scalar) ? 2 : 0
    }

    /// GSM 03.38 extension table: each takes an escape septet plus its own.
    static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)
}
