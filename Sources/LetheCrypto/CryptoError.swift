import COpenSSL
import LetheCore

enum OpenSSLFailure {
    /// An OpenSSL call failed for a reason that is not the data's fault (allocation, bad key size).
    static func error(_ operation: String) -> LetheError {
        ERR_clear_error()
        return .software("OpenSSL failed during \(operation)", hint: "check the libssl installation (libssl-dev 3.x)")
    }
}
