import Foundation
import LetheCore
import Logging

/// The one retry of Lethe's statements that timed out waiting for a lock: back off (0.1 s doubling to 2 s) and try
/// again, so Lethe yields to the application instead of queueing it. A stop request is honoured between attempts.
public struct LockTimeoutRetry {
    let attempts: Int
    let stop: StopRequest
    let logger: Logger

    public init(attempts: Int, stop: StopRequest = .never, logger: Logger = Logger(label: "lethe")) {
        self.attempts = attempts
        self.stop = stop
        self.logger = logger
    }

    public func run<T>(_ what: String, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch let error as PostgresError where error.isLockTimeout && attempt < attempts {
                try stop.check(what)
                logger.info("lock timeout, retrying", metadata: ["while": "\(what)", "attempt": .stringConvertible(attempt)])
                Thread.sleep(forTimeInterval: Self.backOff(attempt))
                attempt += 1
            }
        }
    }

    /// `body` as one short transaction on `db`, retried whole.
    public func transaction<T>(_ db: PostgresConnection, _ what: String, _ body: () throws -> T) throws -> T {
        try run(what) { try db.transaction(body) }
    }

    static func backOff(_ attempt: Int) -> Double { min(2.0, 0.05 * Double(1 << min(attempt, 6))) }
}
