/// Errors of a foundation module that know which Lethe error (and so which exit code) they are.
public protocol LetheErrorConvertible: Error {
    var letheError: LetheError { get }
}

extension LetheError: LetheErrorConvertible {
    public var letheError: LetheError { self }
}

extension Error {
    /// The Lethe error this error stands for; unknown errors are internal (exit 70).
    public var asLetheError: LetheError {
        if let convertible = self as? any LetheErrorConvertible { return convertible.letheError }
        return .software("unexpected internal error: \(type(of: self))", hint: "report this as a bug with the log above")
    }
}
