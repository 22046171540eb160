import LetheCore
import LetheCrypto
import Phone

/// A searchable, keyed fingerprint of a phone number: HMAC-SHA256 of its E.164 form under the blind-index
/// key, truncated to `bits`. Truncation makes distinct numbers collide on purpose (lookups decrypt and
/// confirm each candidate), so a leaked index alone does not pin a number down.
public final class BlindIndex {
    public static let defaultBits = 32
    public let bits: Int
    private let mac: HMACSHA256Key
    private let key: SecretKey

    public init(key: SecretKey, bits: Int = BlindIndex.defaultBits) throws {
        precondition((8...256).contains(bits))
        self.bits = bits
        self.key = key
        self.mac = try HMACSHA256Key(key: key)
    }

    /// An independent instance with the same key and length, for another thread (each owns its MAC contexts).
    public func copy() throws -> BlindIndex { try BlindIndex(key: key, bits: bits) }

    public func tag(_ number: PhoneNumber) throws -> [UInt8] {
        Self.truncate(try mac.authenticate(Array(number.e164.utf8)), to: bits)
    }

    /// The blind index of an opened phone value as Lethe stores it (E.164 text); nil when it is not a number
    /// (a legacy or damaged value).
    public func tag(ofStored plaintext: [UInt8], region: String, rules: PhoneRules) throws -> [UInt8]? {
        guard let text = String(validating: plaintext, as: UTF8.self),
              case .success(let number) = PhoneNumber.parse(text, defaultRegion: region, rules: rules) else { return nil }
        return try tag(number)
    }

    /// The first `bits` bits of a MAC or of a longer index: a shorter index of the same number is a prefix of it.
    public static func truncate(_ tag: [UInt8], to bits: Int) -> [UInt8] {
        var out = Array(tag.prefix((bits + 7) / 8))
        let spare = out.count * 8 - bits
        if spare > 0 { out[out.count - 1] &= UInt8(0xFF) << spare }
        return out
    }
}
