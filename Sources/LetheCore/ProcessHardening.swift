import Foundation

/// A process holding keys must not leave them in a core file.
public enum ProcessHardening {
    public static func noCoreDumps() {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
    }
}
