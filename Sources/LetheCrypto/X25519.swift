import COpenSSL
import LetheCore

/// X25519 key agreement (RFC 7748) on raw 32-byte keys, through OpenSSL's EVP_PKEY. The private key is 32
/// random bytes (the function clamps it); the public key is derived from it.
public enum X25519 {
    public static let keySize = 32

    public static func newPrivateKey() throws -> SecretKey { try SecretKey.random(count: keySize) }

    public static func publicKey(of privateKey: SecretKey) throws(LetheError) -> [UInt8] {
        guard privateKey.count == keySize else { throw OpenSSLFailure.error("X25519 (private key size)") }
        var out = [UInt8](repeating: 0, count: keySize)
        let ok = privateKey.withBytes { lethe_x25519_public($0, &out) == 1 }
        guard ok else { throw OpenSSLFailure.error("X25519 public key") }
        return out
    }

    /// The shared secret with `peer`'s public key; nil for a peer key of small order (an all-zero result), which
    /// would let whoever chose it know the secret.
    public static func sharedSecret(privateKey: SecretKey, peer: [UInt8]) throws(LetheError) -> SecretKey? {
        guard privateKey.count == keySize, peer.count == keySize else { return nil }
        var out = [UInt8](repeating: 0, count: keySize)
        let ok = privateKey.withBytes { lethe_x25519_shared($0, peer, &out) == 1 }
        guard ok else {
            ERR_clear_error()
            return nil
        }
        return out.allSatisfy { $0 == 0 } ? nil : SecretKey(bytes: out)
    }
}
