import COpenSSL
import LetheCore

/// AES-128-CBC with PKCS#7 padding: only to read the platform's legacy ciphertexts, never to write.
public final class LegacyAES128CBC {
    private let context: OpaquePointer

    public init() throws(LetheError) {
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSLFailure.error("EVP_CIPHER_CTX_new") }
        self.context = context
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Decrypts; nil when the padding is wrong (wrong key, corrupt or truncated value). CBC is not
    /// authenticated, so callers verify what they get (Lethe re-seals and reopens every migrated value).
    public func decrypt(key: SecretKey, iv: [UInt8], ciphertext: [UInt8]) throws(LetheError) -> [UInt8]? {
        guard key.count == 16, iv.count == 16 else { throw .dataError("AES-128-CBC needs a 16-byte key and a 16-byte IV") }
        guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else { return nil }
        var output = [UInt8](repeating: 0, count: ciphertext.count + 16)
        let produced: Int? = key.withBytes { keyBytes in
            output.withUnsafeMutableBufferPointer { out in
                var written: Int32 = 0, final: Int32 = 0
                guard EVP_DecryptInit_ex(context, EVP_aes_128_cbc(), nil, keyBytes, iv) == 1,
                      EVP_DecryptUpdate(context, out.baseAddress, &written, ciphertext, Int32(ciphertext.count)) == 1 else { return nil }
                guard EVP_DecryptFinal_ex(context, out.baseAddress! + Int(written), &final) == 1 else {
                    ERR_clear_error()
                    return -1
                }
                return Int(written + final)
            }
        }
        guard let produced else { throw OpenSSLFailure.error("AES-128-CBC decrypt") }
        guard produced >= 0 else { return nil }
        return Array(output.prefix(produced))
    }

    /// Opens a stored legacy value, `IV (16 bytes) · ciphertext`, as the platform wrote it; nil when it is too
    /// short, not whole blocks, or its padding is wrong.
    public func open(legacyValue bytes: [UInt8], key: SecretKey) throws(LetheError) -> [UInt8]? {
        guard bytes.count >= 32 else { return nil }
        return try decrypt(key: key, iv: Array(bytes.prefix(16)), ciphertext: Array(bytes.dropFirst(16)))
    }
}
