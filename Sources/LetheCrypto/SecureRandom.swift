import COpenSSL
import LetheCore

public enum SecureRandom {
    /// `count` bytes from OpenSSL's CSPRNG (RAND_bytes).
    public static func bytes(_ count: Int) throws(LetheError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&output, Int32(count)) == 1 else { throw OpenSSLFailure.error("RAND_bytes") }
        return output
    }
}
