import Foundation
import Postgres

/// Stopping a job at a known point instead of after a guessed delay: a second connection holds a lock the job
/// needs there, the test waits until the job's backend is seen waiting for it, then acts (kills, places a hold).
public enum KnownPoint {
    /// Waits until a backend of `database` (other than `watcher`'s) waits on a heavyweight lock and, if given,
    /// runs a statement containing `queryContains`. False after `seconds`.
    @discardableResult
    public static func waitForLockWait(_ watcher: PostgresConnection, database: String, queryContains: String? = nil, seconds: Double = 60) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            // Inside a transaction (the blocker's own), statistics views keep their first snapshot: refresh it.
            try watcher.execute("SELECT pg_stat_clear_snapshot()")
            let waiting = try watcher.query("""
                SELECT count(*) AS n FROM pg_stat_activity
                WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                  AND ($2::text IS NULL OR strpos(query, $2) > 0)
                """, [.text(database), queryContains.map { .text($0) } ?? .null]).single("n").int("n")
            if waiting > 0 { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

extension KnownPoint {
    /// Polls `condition` until it holds, for at most `seconds`: a test waits for the state it needs (runs recorded,
    /// a backend waiting), never for a guessed delay. True when it held.
    @discardableResult
    public static func until(seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    /// What every other backend of `database` is doing, for failure messages.
    public static func activity(_ watcher: PostgresConnection, database: String) -> String {
        let rows = (try? watcher.query("""
            SELECT coalesce(state, '') || ' ' || coalesce(wait_event_type, '-') || '/' || coalesce(wait_event, '-') || ': ' || left(query, 100) AS line
            FROM pg_stat_activity WHERE (datname = $1 OR datname IS NULL OR datname = 'postgres') AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            """, [.text(database)]).rows.map { try $0.string("line") }) ?? []
        return rows.joined(separator: "\n")
    }
}

/// The lethe binary running in the background: started, then killed or waited for. (Unchecked Sendable: the
/// captured output is written by the two reader threads and read only after `group.wait()`.)
public final class RunningLethe: @unchecked Sendable {
    public let process: Process
    private let out = Pipe(), err = Pipe()
    private var outData = Data(), errData = Data()
    private let group = DispatchGroup()

    public init(_ arguments: [String], environment extra: [String: String] = [:], stdin: String? = nil) throws {
        process = LetheProcess.configured(arguments, environment: extra)
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            DispatchQueue.global().async { [self] in
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                if isOut { outData = data } else { errData = data }
                group.leave()
            }
        }
    }

    public var isRunning: Bool { process.isRunning }

    /// SIGKILL, as the OOM killer or a power cut would end it: no handler runs. Children (pg_dump,
    /// pg_restore) are left running, as they would be.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    @discardableResult
    public func wait() -> LetheProcess.Outcome {
        process.waitUntilExit()
        group.wait()
        return LetheProcess.Outcome(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                                    stderr: String(decoding: errData, as: UTF8.self))
    }
}
