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

    public init(key: SecretKey, bits: Int = BlindIndex.defaultBits) throws {
        precondition((8...256).contains(bits))
        self.bits = bits
        self.mac = try HMACSHA256Key(key: key)
    }

    public func tag(_ number: PhoneNumber) throws -> [UInt8] {
        var tag = Array(try mac.authenticate(Array(number.e164.utf8)).prefix((bits + 7) / 8))
        let spare = tag.count * 8 - bits
        if spare > 0 { tag[tag.count - 1] &= UInt8(0xFF) << spare }
        return tag
    }
}
