import Foundation
import LetheCore
import Postgres

/// A PostgreSQL 15 cluster of a test's own, in a temp dir, on a Unix socket there: for physical backups and
/// restores (pgBackRest, pg_basebackup), which act on a whole cluster and so cannot use the shared one. Its WAL is
/// archived through pgBackRest, with a repository on local disk beside it. Stopped and removed by `remove`.
public final class PhysicalCluster: @unchecked Sendable {
    public let directory: String
    public let port: Int
    public var data: String { directory + "/data" }
    public var socket: String { directory }
    public var conninfo: String { "host=\(socket) port=\(port) dbname=postgres user=postgres" }
    public var pgbackrestConfig: String { directory + "/pgbackrest.conf" }
    static let bin = "/usr/lib/postgresql/15/bin"

    public init() throws {
        var template = Array("/tmp/lethe-phys.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw LetheError(.cannotCreate, "cannot make a temp dir for a cluster") }
        directory = String(cString: made)
        port = 56_000 + Int(getpid() % 500) * 2 + Int.random(in: 0...1)
        if getuid() == 0 { _ = try Self.spawn(["/bin/chown", "postgres", directory]) }
        try """
            [global]
            repo1-path=\(directory)/repo
            log-path=\(directory)/pgbackrest-log
            lock-path=\(directory)/pgbackrest-lock
            spool-path=\(directory)/pgbackrest-spool
            log-level-console=warn
            log-level-file=off
            start-fast=y
            archive-check=y

            [lethe]
            pg1-path=\(directory)/data
            pg1-socket-path=\(directory)
            pg1-port=\(port)

            """.write(toFile: pgbackrestConfig, atomically: true, encoding: .utf8)
        try asPostgres([Self.bin + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])
        let archive = "pgbackrest --config=\(pgbackrestConfig) --stanza=lethe archive-push %p"
        let settings = """

            listen_addresses = ''
            unix_socket_directories = '\(directory)'
            port = \(port)
            wal_level = replica
            archive_mode = on
            archive_command = '\(archive)'
            max_wal_senders = 4
            fsync = off
            full_page_writes = on

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/postgresql.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(settings.utf8))
        try handle.close()
        try start()
    }

    /// Starts the server and waits until it accepts writes: after a restore, `pg_ctl -w` returns once recovery has
    /// reached consistency and read-only connections are accepted, before the promotion.
    public func start() throws {
        try asPostgres([Self.bin + "/pg_ctl", "-D", data, "-l", directory + "/log", "-w", "-t", "60", "start"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let db = try? PostgresConnection(conninfo: conninfo), let row = try? db.query("SELECT pg_is_in_recovery() AS r").first,
               (try? row.bool("r")) == false {
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw LetheError.unavailable("the restored cluster in \(directory) was not promoted within 60 s")
    }

    public func stop() throws { try asPostgres([Self.bin + "/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]) }

    /// `pgbackrest --stanza=lethe COMMAND ARGS` against this cluster's repository.
    public func pgbackrest(_ command: String, _ arguments: [String] = []) throws {
        try asPostgres(["/usr/bin/pgbackrest", "--config=\(pgbackrestConfig)", "--stanza=lethe"] + arguments + [command])
    }

    /// Replaces the data directory with `copy` (a plain `pg_basebackup` copy); the cluster must be stopped.
    public func replaceData(with copy: String) throws {
        try FileManager.default.removeItem(atPath: data)
        try asPostgres(["/bin/cp", "-a", copy, data])
    }

    public func asPostgres(_ argv: [String]) throws {
        let status = try Self.spawn(getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv : argv, log: directory + "/commands.log")
        guard status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/commands.log", encoding: .utf8)) ?? ""
            throw LetheError.unavailable("\(argv.joined(separator: " ")) failed (wait status \(status)): \(log.suffix(1500))")
        }
    }

    public func remove() {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// posix_spawn and waitpid: Foundation's Process never saw runuser's exit once pg_ctl had daemonised the postmaster.
    @discardableResult
    static func spawn(_ argv: [String], log: String = "/dev/null") throws -> Int32 {
        var pid: pid_t = 0
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o666)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ) == 0 else {
            throw LetheError.unavailable("cannot start \(argv[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }
}
