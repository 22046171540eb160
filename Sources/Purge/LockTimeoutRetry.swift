import Foundation
import LetheCore
import Logging
import Postgres

/// Retries an operation that timed out waiting for a lock, backing off (0.1 s doubling to 2 s), so Lethe yields
/// to the application instead of queueing it. A stop request is honoured between attempts.
struct LockTimeoutRetry {
    let attempts: Int
    let stop: StopRequest
    let logger: Logger

    func run<T>(_ what: String, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch let error as PostgresError where error.isLockTimeout && attempt < attempts {
                try stop.check(what)
                logger.info("lock timeout, retrying", metadata: ["while": "\(what)", "attempt": "\(attempt)"])
                Thread.sleep(forTimeInterval: min(2.0, 0.05 * Double(1 << min(attempt, 6))))
                attempt += 1
            }
        }
    }
}
