import Foundation
import LetheCore

/// The throwaway server itself (scripts/with-postgres.sh exports LETHE_TEST_PGDATA): restarted as a crash would,
/// for the fault-injection suite only (`make test-faults`, which runs alone: every connection drops).
public enum TestServer {
    public static func restartImmediately() throws {
        guard let data = ProcessInfo.processInfo.environment["LETHE_TEST_PGDATA"] else {
            throw LetheError.unavailable("LETHE_TEST_PGDATA is not set", hint: "run the fault-injection suite with 'make test-faults'")
        }
        let log = URL(fileURLWithPath: data).deletingLastPathComponent().appendingPathComponent("log").path
        let pgctl = ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", data, "-l", log, "-m", "immediate", "-w", "restart"]
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + pgctl : pgctl
        let status = try PhysicalCluster.spawn(argv)
        guard status == 0 else { throw LetheError.unavailable("pg_ctl restart failed (wait status \(status))") }
    }
}
