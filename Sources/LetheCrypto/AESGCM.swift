import COpenSSL
import LetheCore

/// AES-256-GCM with 96-bit nonces and 128-bit tags through OpenSSL EVP. The instance owns one
/// `EVP_CIPHER_CTX`, reused across calls (cheap for streams), freed in `deinit`. Not Sendable.
public final class AESGCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    private let context: OpaquePointer

    public init() throws(LetheError) {
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSLFailure.error("EVP_CIPHER_CTX_new") }
        self.context = context
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Returns ciphertext followed by the 16-byte tag.
    public func seal(key: SecretKey, nonce: [UInt8], plaintext: [UInt8], associatedData: [UInt8] = []) throws(LetheError) -> [UInt8] {
        guard key.count == Self.keySize, nonce.count == Self.nonceSize else {
            throw .software("AES-256-GCM needs a 32-byte key and a 12-byte nonce")
        }
        var output = [UInt8](repeating: 0, count: plaintext.count + Self.tagSize)
        let ok: Bool = key.withBytes { keyBytes in
            output.withUnsafeMutableBufferPointer { out in
                var length: Int32 = 0
                guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                      lethe_gcm_set_ivlen(context, Int32(Self.nonceSize)) == 1,
                      EVP_EncryptInit_ex(context, nil, nil, keyBytes, nonce) == 1 else { return false }
                if !associatedData.isEmpty {
                    guard EVP_EncryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else { return false }
                }
                var written: Int32 = 0
                if !plaintext.isEmpty {
                    guard EVP_EncryptUpdate(context, out.baseAddress, &written, plaintext, Int32(plaintext.count)) == 1 else { return false }
                }
                guard EVP_EncryptFinal_ex(context, out.baseAddress! + Int(written), &length) == 1 else { return false }
                return lethe_gcm_get_tag(context, out.baseAddress! + plaintext.count, Int32(Self.tagSize)) == 1
            }
        }
        guard ok else { throw OpenSSLFailure.error("AES-256-GCM seal") }
        return output
    }

    /// Opens ciphertext-and-tag; returns nil when authentication fails (wrong key, nonce, data or tag).
    public func open(key: SecretKey, nonce: [UInt8], sealed: [UInt8], associatedData: [UInt8] = []) throws(LetheError) -> [UInt8]? {
        guard key.count == Self.keySize, nonce.count == Self.nonceSize else {
            throw .software("AES-256-GCM needs a 32-byte key and a 12-byte nonce")
        }
        guard sealed.count >= Self.tagSize else { return nil }
        let textCount = sealed.count - Self.tagSize
        var tag = Array(sealed[textCount...])
        var output = [UInt8](repeating: 0, count: max(textCount, 1))
        let result: Int32? = key.withBytes { keyBytes in
            output.withUnsafeMutableBufferPointer { out in
                sealed.withUnsafeBufferPointer { input in
                    var length: Int32 = 0
                    guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                          lethe_gcm_set_ivlen(context, Int32(Self.nonceSize)) == 1,
                          EVP_DecryptInit_ex(context, nil, nil, keyBytes, nonce) == 1 else { return nil }
                    if !associatedData.isEmpty {
                        guard EVP_DecryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else { return nil }
                    }
                    var written: Int32 = 0
                    if textCount > 0 {
                        guard EVP_DecryptUpdate(context, out.baseAddress, &written, input.baseAddress, Int32(textCount)) == 1 else { return nil }
                    }
                    guard lethe_gcm_set_tag(context, &tag, Int32(Self.tagSize)) == 1 else { return nil }
                    return EVP_DecryptFinal_ex(context, out.baseAddress! + Int(written), &length)
                }
            }
        }
        guard let result else { throw OpenSSLFailure.error("AES-256-GCM open") }
        guard result == 1 else { return nil }
        output.removeLast(output.count - textCount)
        return output
    }
}
