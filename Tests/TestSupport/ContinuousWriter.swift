import Foundation
import LetheCore
import Postgres

/// The application's traffic during a test: a thread on its own connection inserting one statement after another
/// (5 ms apart) until stopped, under the application's `lock_timeout`, recording every
/// error and the longest statement. A test asserts on what the application saw: no error, no wait past its timeout.
public final class ContinuousWriter: @unchecked Sendable {
    public struct Outcome: Sendable {
        public var statements = 0
        public var errors: [String] = []
        public var longestSeconds = 0.0
    }

    private let state = Locked((outcome: Outcome(), stop: false, done: false))
    private let finished = DispatchSemaphore(value: 0)

    /// `statements` are run in turn, round robin; `lockTimeout` is the application's (e.g. "1s").
    public init(conninfo: String, lockTimeout: String = "1s", statements: [String]) throws {
        let connected = DispatchSemaphore(value: 0)
        let failure = Locked<String?>(nil)
        let thread = Thread { [state, finished] in
            let db: PostgresConnection
            do {
                db = try PostgresConnection(conninfo: conninfo)
                try db.execute("SELECT set_config('lock_timeout', \(.text(lockTimeout)), false)")
            } catch {
                failure.withLock { $0 = "\(error)" }
                connected.signal()
                finished.signal()
                return
            }
            connected.signal()
            var next = 0
            while !state.value.stop {
                let started = Date()
                do {
                    _ = try db.execute(SQL(unsafeRaw: statements[next % statements.count]))
                    state.withLock { $0.outcome.statements += 1 }
                } catch {
                    state.withLock { $0.outcome.errors.append("\(error)") }
                }
                let seconds = Date().timeIntervalSince(started)
                state.withLock { $0.outcome.longestSeconds = max($0.outcome.longestSeconds, seconds) }
                next += 1
                Thread.sleep(forTimeInterval: 0.005)
            }
            finished.signal()
        }
        thread.start()
        connected.wait()
        if let message = failure.value { throw ContinuousWriterError.cannotConnect(message) }
    }

    /// Stops the writer, waits for its last statement, and says what it saw.
    public func stop() -> Outcome {
        state.withLock { $0.stop = true }
        finished.wait()
        return state.value.outcome
    }
}

enum ContinuousWriterError: Error { case cannotConnect(String) }
