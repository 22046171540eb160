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
        case .checkFailed: "the job ran but its final check failed: rows past their cutoff remain (purge), values left unconverted (encrypt migrate), a request is overdue (requests check), erasures not replayed (restore --without-erasure-replay), ledger records re-applied (reconcile) or a database not in step with its ledger (status, ledger verify)"
        case .usage: "bad command line usage, or a malformed connection option (not worth retrying)"
        case .dataError: "bad input data: policy, input file, retention period, value"
        case .noInput: "an input file or object does not exist"
        case .unavailable: "database unreachable, or a required program missing (worth retrying once the server is back)"
        case .software: "internal error"
        case .cannotCreate: "cannot create an output file, or a restore target already holds the tables (without --clean)"
        case .ioError: "input/output error"
        case .tempFail: "another run holds the lock (try again later, or `--wait`)"
        case .noPermission: "permission denied: file modes, database privileges, or credentials refused (wrong password, no pg_hba.conf entry; not worth retrying)"
        case .config: "configuration error: schema or migrations out of step with this binary, a keyring that is not this database's, a policy at odds with the database, a job without the key or repository it needs, a database or TLS setup the server does not have, a ledger without its key or behind the database"
        case .integrity: "integrity or authentication failure: tampered backup or ledger, ciphertext that does not open, wrong key"
        case .legalHold: "a legal hold covers the data: `subject erase` kept a held customer's rows (and erased the rest)"
        }
    }

    /// What to do next when an error carries no hint of its own: every error on stderr ends with a HINT line.
    public var defaultHint: String {
        switch self {
        case .success: "nothing to do"
        case .checkFailed: "the report above names what is left; fix it and rerun the job"
        case .usage: "'lethe help COMMAND' shows a command's options and examples"
        case .dataError: "fix the input named above and rerun; nothing was changed"
        case .noInput: "check the path or id named above ('lethe backup list', 'lethe requests list')"
        case .unavailable: "check that the database or program named above is running, reachable and installed"
        case .software: "report this as a bug with the log above"
        case .cannotCreate: "check that the output location exists, is writable, and holds nothing in the way"
        case .ioError: "check free space and the file system holding the path named above"
        case .tempFail: "another run holds the lock: rerun later, or pass --wait"
        case .noPermission: "check the file's owner and mode, or the database role's grants"
        case .config: "check that the keyring, policy and migrations are this database's ('lethe migrate --status', 'lethe keys status')"
        case .integrity: "do not trust this file or value: use another backup ('lethe backup list') or the keyring it was made with"
        case .legalHold: "a legal hold covers this data: 'lethe hold list' shows it; only a DPO's release lifts it"
        }
    }
}
