import Foundation

/// A shutdown request shared between the worker's signal handling and the job it is running. Jobs check it at
/// their safe points (a purge between batches, a backup between chunks) and throw `StopRequested`.
public final class StopRequest: @unchecked Sendable {
    private let requested = Locked(false)

    public init() {}

    public func request() { requested.withLock { $0 = true } }
    public var isRequested: Bool { requested.value }

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
