import COpenSSL
import LetheCore

/// AES-256-GCM with 96-bit nonces and 128-bit tags through OpenSSL EVP. The instance owns one
/// `EVP_CIPHER_CTX`, reused across calls (cheap for streams), freed in `deinit`. Not Sendable.
public final class AESGCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    private let context: OpaquePointer
    /// The key the context was last set up with, and for which direction: sealing many values under one key
    /// then only changes the nonce, skipping the key schedule.
    private var preparedKey: SecretKey?
    private var preparedForSealing = false
    /// Random bytes drawn in bulk for nonces: one RAND_bytes call per 1,024 values.
    private var nonces: [UInt8] = []
    private var nonceOffset = 0

    public init() throws(LetheError) {
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSLFailure.error("EVP_CIPHER_CTX_new") }
        self.context = context
    }

    /// A fresh random 96-bit nonce from OpenSSL's CSPRNG.
    public func randomNonce() throws(LetheError) -> [UInt8] {
        if nonceOffset == nonces.count {
            nonces = try SecureRandom.bytes(Self.nonceSize * 1024)
            nonceOffset = 0
        }
        defer { nonceOffset += Self.nonceSize }
        return Array(nonces[nonceOffset..<nonceOffset + Self.nonceSize])
    }

    private func prepare(key: SecretKey, nonce: [UInt8], sealing: Bool) -> Bool {
        let init_ = sealing ? EVP_EncryptInit_ex : EVP_DecryptInit_ex
        if preparedKey == key && preparedForSealing == sealing {
            return init_(context, nil, nil, nil, nonce) == 1
        }
        preparedKey = nil
        let ok = key.withBytes { keyBytes in
            init_(context, EVP_aes_256_gcm(), nil, nil, nil) == 1
                && lethe_gcm_set_ivlen(context, Int32(Self.nonceSize)) == 1
                && init_(context, nil, nil, keyBytes, nonce) == 1
        }
        if ok {
            preparedKey = key
            preparedForSealing = sealing
        }
        return ok
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Returns ciphertext followed by the 16-byte tag.
    public func seal(key: SecretKey, nonce: [UInt8], plaintext: [UInt8], associatedData: [UInt8] = []) throws(LetheError) -> [UInt8] {
        var output: [UInt8] = []
        try seal(key: key, nonce: nonce, plaintext: plaintext, associatedData: associatedData, appendingTo: &output)
        return output
    }

    /// Appends ciphertext and tag to `output` (an envelope's header already there: no second buffer and copy per
    /// value). On failure `output` is left as it was.
    public func seal(key: SecretKey, nonce: [UInt8], plaintext: [UInt8], associatedData: [UInt8] = [],
                     appendingTo output: inout [UInt8]) throws(LetheError) {
        guard key.count == Self.keySize, nonce.count == Self.nonceSize else {
            throw .software("AES-256-GCM needs a 32-byte key and a 12-byte nonce")
        }
        guard prepare(key: key, nonce: nonce, sealing: true) else { throw OpenSSLFailure.error("AES-256-GCM seal") }
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: plaintext.count + Self.tagSize))
        let ok: Bool = output.withUnsafeMutableBufferPointer { buffer in
                let out = buffer.baseAddress! + start
                var length: Int32 = 0
                if !associatedData.isEmpty {
                    guard EVP_EncryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else { return false }
                }
                var written: Int32 = 0
                if !plaintext.isEmpty {
                    guard EVP_EncryptUpdate(context, out, &written, plaintext, Int32(plaintext.count)) == 1 else { return false }
                }
                guard EVP_EncryptFinal_ex(context, out + Int(written), &length) == 1 else { return false }
                return lethe_gcm_get_tag(context, out + plaintext.count, Int32(Self.tagSize)) == 1
        }
        guard ok else {
            output.removeLast(output.count - start)
            throw OpenSSLFailure.error("AES-256-GCM seal")
        }
    }

    /// Opens ciphertext-and-tag; returns nil when authentication fails (wrong key, nonce, data or tag).
    public func open(key: SecretKey, nonce: [UInt8], sealed: [UInt8], associatedData: [UInt8] = []) throws(LetheError) -> [UInt8]? {
        guard key.count == Self.keySize, nonce.count == Self.nonceSize else {
            throw .software("AES-256-GCM needs a 32-byte key and a 12-byte nonce")
        }
        guard sealed.count >= Self.tagSize else { return nil }
        let textCount = sealed.count - Self.tagSize
        var tag = Array(sealed[textCount...])
        guard prepare(key: key, nonce: nonce, sealing: false) else { throw OpenSSLFailure.error("AES-256-GCM open") }
        // Written by the decryption itself, so not zeroed first (a 64 KiB backup chunk's memset showed in profiles).
        var result: Int32?
        var output = [UInt8](unsafeUninitializedCapacity: max(textCount, 1)) { out, initialized in
            result = sealed.withUnsafeBufferPointer { input in
                    var length: Int32 = 0
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
            // Only what was written counts as initialized; on any failure, nothing.
            initialized = result == 1 ? textCount : 0
        }
        guard let result else { throw OpenSSLFailure.error("AES-256-GCM open") }
        guard result == 1 else {
            ERR_clear_error()
            return nil
        }
        output.removeLast(output.count - textCount)
        return output
    }
}
