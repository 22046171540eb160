/// Lethe's stable exit codes (sysexits-style). Operators' scripts rely on these numbers:
/// they are documented in README.md and never renumbered.
public enum LetheExitCode: Int32, CaseIterable, Sendable {
    case success = 0
    /// The run worked, but a post-condition check failed (rows past cutoff remain, requests overdue).
    case checkFailed = 1
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case software = 70
    case cannotCreate = 73
    case ioError = 74
    case tempFail = 75
    case noPermission = 77
    case config = 78
    /// Authentication or integrity failure: a tampered backup, a ciphertext that does not open, a wrong key.
    case integrity = 79
    /// Refused because a legal hold covers the data (an erasure of a held customer's rows).
    case legalHold = 80

    public var meaning: String {
        switch self {
        case .success: "success"
        case .checkFailed: "the job ran but its final check failed"
        case .usage: "bad command line usage"
        case .dataError: "bad input data (policy, file, period, value)"
        case .noInput: "an input file or object does not exist"
        case .unavailable: "database or required program unavailable"
        case .software: "internal error"
        case .cannotCreate: "cannot create an output file"
        case .ioError: "input/output error"
        case .tempFail: "another run holds the lock; try again later"
        case .noPermission: "permission denied (file modes, database privileges)"
        case .config: "configuration error (schema or migrations out of step)"
        case .integrity: "integrity or authentication failure"
        case .legalHold: "refused: a legal hold covers the data"
        }
    }
}
