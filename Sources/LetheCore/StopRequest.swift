import Foundation

/// A shutdown request shared between the worker's signal handling and the job it is running. Jobs check it at
/// their safe points (a purge between batches, a backup between chunks) and throw `StopRequested`.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false

    public init() {}

    public func request() { lock.withLock { requested = true } }
    public var isRequested: Bool { lock.withLock { requested } }

    /// Throws `StopRequested` once a stop was asked for.
    public func check(_ where: String) throws {
        if isRequested { throw StopRequested(at: `where`) }
    }

    /// A request that is never made, for one-shot commands.
    public static let never = StopRequest()
}

/// Thrown by a job that stopped early at a safe point because the worker is shutting down.
public struct StopRequested: Error, LetheErrorConvertible, Sendable {
    public let at: String
    public var letheError: LetheError { LetheError(.tempFail, "stopped by a shutdown request (\(at))", hint: "the next run finishes the job") }
}
