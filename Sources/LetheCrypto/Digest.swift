import COpenSSL
import LetheCore

public enum SHA256 {
    public static let size = 32

    public static func hash(_ data: [UInt8]) throws(LetheError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        guard EVP_Digest(data, data.count, &output, &length, EVP_sha256(), nil) == 1 else { throw OpenSSLFailure.error("SHA-256") }
        return output
    }

    public static func hex(_ data: [UInt8]) throws(LetheError) -> String { Hex.encode(try hash(data)) }
}

/// Streaming SHA-256 for files and backup streams; owns one `EVP_MD_CTX`.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() throws(LetheError) {
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLFailure.error("EVP_MD_CTX_new") }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw OpenSSLFailure.error("EVP_DigestInit_ex")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ data: [UInt8]) throws(LetheError) {
        guard EVP_DigestUpdate(context, data, data.count) == 1 else { throw OpenSSLFailure.error("SHA-256 update") }
    }

    public func finish() throws(LetheError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: SHA256.size)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &output, &length) == 1 else { throw OpenSSLFailure.error("SHA-256 final") }
        return output
    }
}

public enum HMACSHA256 {
    public static func authenticate(key: SecretKey, message: [UInt8]) throws(LetheError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: SHA256.size)
        var length: UInt32 = 0
        let ok = key.withBytes { keyBytes in
            HMAC(EVP_sha256(), keyBytes, Int32(keyBytes.count), message, message.count, &output, &length) != nil
        }
        guard ok else { throw OpenSSLFailure.error("HMAC-SHA256") }
        return output
    }
}

public enum HKDFSHA256 {
    /// RFC 5869 extract-and-expand.
    public static func derive(inputKey: SecretKey, salt: [UInt8], info: [UInt8], count: Int) throws(LetheError) -> SecretKey {
        var output = [UInt8](repeating: 0, count: count)
        let ok = inputKey.withBytes { ikm in
            lethe_hkdf_sha256(ikm, ikm.count, salt, salt.count, info, info.count, &output, count) == 1
        }
        guard ok else { throw OpenSSLFailure.error("HKDF-SHA256") }
        return SecretKey(bytes: output)
    }
}

/// HMAC-SHA256 under one key for many messages: the inner and outer padded-key states are computed once
/// and copied per message (RFC 2104), instead of setting a MAC up per call. Owns three `EVP_MD_CTX`.
public final class HMACSHA256Key {
    private let inner: OpaquePointer
    private let outer: OpaquePointer
    private let work: OpaquePointer

    public init(key: SecretKey) throws(LetheError) {
        guard let inner = EVP_MD_CTX_new(), let outer = EVP_MD_CTX_new(), let work = EVP_MD_CTX_new() else {
            throw OpenSSLFailure.error("EVP_MD_CTX_new")
        }
        self.inner = inner
        self.outer = outer
        self.work = work
        var block = key.withBytes { $0.count > 64 ? ((try? SHA256.hash($0)) ?? []) : $0 }
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let innerPad = block.map { $0 ^ 0x36 }, outerPad = block.map { $0 ^ 0x5C }
        guard EVP_DigestInit_ex(inner, EVP_sha256(), nil) == 1, EVP_DigestUpdate(inner, innerPad, 64) == 1,
              EVP_DigestInit_ex(outer, EVP_sha256(), nil) == 1, EVP_DigestUpdate(outer, outerPad, 64) == 1 else {
            throw OpenSSLFailure.error("HMAC-SHA256 key setup")
        }
    }

    deinit {
        EVP_MD_CTX_free(inner)
        EVP_MD_CTX_free(outer)
        EVP_MD_CTX_free(work)
    }

    public func authenticate(_ message: [UInt8]) throws(LetheError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.size)
        var length: UInt32 = 0
        guard EVP_MD_CTX_copy_ex(work, inner) == 1, EVP_DigestUpdate(work, message, message.count) == 1,
              EVP_DigestFinal_ex(work, &digest, &length) == 1,
              EVP_MD_CTX_copy_ex(work, outer) == 1, EVP_DigestUpdate(work, digest, digest.count) == 1,
              EVP_DigestFinal_ex(work, &digest, &length) == 1 else { throw OpenSSLFailure.error("HMAC-SHA256") }
        return digest
    }
}
