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
        // posix_spawn and waitpid rather than Foundation's Process: its waitUntilExit never saw runuser's exit here
        // (busy-waiting for ever) once pg_ctl had daemonised the new postmaster.
        var pid: pid_t = 0
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ) == 0 else {
            throw LetheError.unavailable("cannot start \(argv[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else { throw LetheError.unavailable("pg_ctl restart failed (wait status \(status))") }
    }
}
