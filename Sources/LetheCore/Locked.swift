import Foundation

/// A value shared between threads, read and changed only under its lock: the one lock box of the code base.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    /// Runs `body` with the value, holding the lock; keep it short and never block in it.
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&stored) }
    }

    /// A copy of the value as it is now.
    public var value: Value { lock.withLock { stored } }
}
