import COpenSSL
import LetheCore

/// Ed25519 signatures (RFC 8032) on raw keys, through OpenSSL's EVP_PKEY: a 32-byte private seed, a 32-byte
/// public key, 64-byte signatures. What proves a backup's origin without any key that opens it.
public enum Ed25519 {
    public static let keySize = 32
    public static let signatureSize = 64

    public static func newPrivateKey() throws -> SecretKey { try SecretKey.random(count: keySize) }

    public static func publicKey(of privateKey: SecretKey) throws(LetheError) -> [UInt8] {
        guard privateKey.count == keySize else { throw OpenSSLFailure.error("Ed25519 (private key size)") }
        var out = [UInt8](repeating: 0, count: keySize)
        let ok = privateKey.withBytes { lethe_ed25519_public($0, &out) == 1 }
        guard ok else { throw OpenSSLFailure.error("Ed25519 public key") }
        return out
    }

    public static func sign(_ message: [UInt8], privateKey: SecretKey) throws(LetheError) -> [UInt8] {
        guard privateKey.count == keySize else { throw OpenSSLFailure.error("Ed25519 (private key size)") }
        var signature = [UInt8](repeating: 0, count: signatureSize)
        let ok = privateKey.withBytes { lethe_ed25519_sign($0, message, message.count, &signature) == 1 }
        guard ok else { throw OpenSSLFailure.error("Ed25519 sign") }
        return signature
    }

    /// Whether `signature` is `publicKey`'s over `message`; false for a malformed key or signature.
    public static func isValid(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard publicKey.count == keySize, signature.count == signatureSize else { return false }
        let valid = lethe_ed25519_verify(publicKey, message, message.count, signature) == 1
        if !valid { ERR_clear_error() }
        return valid
    }
}
