import Keys
import LetheCore
import LetheCrypto
import Phone

/// A data subject without their number: the blind index (to find candidate rows, collisions included) and a
/// keyed HMAC-SHA256 of the E.164 number under the keyring's tombstone key (to confirm a decrypted candidate).
/// This pair is all a tombstone keeps.
public struct SubjectFingerprint: Sendable, Equatable {
    public let blindIndex: [UInt8]
    public let blindIndexBits: Int
    public let hmac: [UInt8]

    public init(blindIndex: [UInt8], blindIndexBits: Int, hmac: [UInt8]) {
        self.blindIndex = blindIndex
        self.blindIndexBits = blindIndexBits
        self.hmac = hmac
    }

    public init(_ number: PhoneNumber, blindIndex: BlindIndex, confirmation: SubjectConfirmation) throws {
        self.blindIndex = try blindIndex.tag(number)
        self.blindIndexBits = blindIndex.bits
        self.hmac = try confirmation.hmac(Array(number.e164.utf8))
    }
}

/// The keyed hash that confirms a candidate: HMAC-SHA256 under the key derived for tombstones.
public final class SubjectConfirmation {
    private let mac: HMACSHA256Key

    public init(keyring: Keyring) throws {
        mac = try HMACSHA256Key(key: try keyring.derivedKey(.subjectTombstone))
    }

    func hmac(_ plaintext: [UInt8]) throws -> [UInt8] { try mac.authenticate(plaintext) }

    /// True when a decrypted phone value is the fingerprinted number (compared in constant time).
    func matches(_ plaintext: [UInt8], _ fingerprint: SubjectFingerprint) throws -> Bool {
        let candidate = try hmac(plaintext)
        guard candidate.count == fingerprint.hmac.count else { return false }
        return zip(candidate, fingerprint.hmac).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
