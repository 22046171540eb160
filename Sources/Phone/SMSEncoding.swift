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
        // One pass per alphabet and no arrays: intake runs this on every message.
        var gsm = SegmentCounter(single: 160, multi: 153)
        var isGSM = true
        for scalar in text.unicodeScalars {
            let width = scalar.value < 0x100 ? Int(Self.latinWidths[Int(scalar.value)])
                : Self.basic.contains(scalar) ? 1 : Self.extended.contains(scalar) ? 2 : 0
            guard width > 0 else {
                isGSM = false
                break
            }
            gsm.add(width)
        }
        if isGSM {
            self.init(alphabet: .gsm7, counter: gsm)
            return
        }
        var ucs2 = SegmentCounter(single: 70, multi: 67)
        for scalar in text.unicodeScalars { ucs2.add(scalar.value > 0xFFFF ? 2 : 1) }
        self.init(alphabet: .ucs2, counter: ucs2)
    }

    private init(alphabet: Alphabet, counter: SegmentCounter) {
        self.alphabet = alphabet
        units = counter.units
        segments = counter.segments
    }

    /// Units in all, and segments as if the text were split: a unit that would straddle a segment's end starts the
    /// next one. A text within `single` units is one segment whatever the split count.
    private struct SegmentCounter {
        let single: Int
        let multi: Int
        var units = 0
        var split = 1
        var used = 0

        init(single: Int, multi: Int) {
            self.single = single
            self.multi = multi
        }

        mutating func add(_ width: Int) {
            units += width
            if used + width > multi {
                split += 1
                used = 0
            }
            used += width
        }

        var segments: Int { units > single ? split : 1 }
    }

    /// GSM 03.38 default alphabet (without the escape character).
    static let basic: Set<Unicode.Scalar> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà".unicodeScalars)
    /// Septets of each Latin-1 character (ASCII and the accented letters of most message text, looked up without
    /// hashing): 1 (basic), 2 (extension) or 0 (not in GSM-7, such as the backtick or ô).
    static let latinWidths: [UInt8] = (0..<256).map { value in
        let scalar = Unicode.Scalar(UInt8(value))
        return basic.contains(scalar) ? 1 : extended.contains(scalar) ? 2 : 0
    }

    /// GSM 03.38 extension table: each takes an escape septet plus its own.
    static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)
}
