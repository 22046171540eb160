import Foundation

/// A value made at most once per test process, by its first caller, while later callers wait for it (a failure
/// is not remembered: the next caller tries again). For fixtures that many tests share: a template database,
/// a policy file.
public final class MadeOnce<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var made: Value?
    private let make: @Sendable () throws -> Value

    public init(_ make: @escaping @Sendable () throws -> Value) { self.make = make }

    public func value() throws -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let made { return made }
        let value = try make()
        made = value
        return value
    }
}
