/// The one error type that crosses module boundaries. Its text says what failed and where, plus a hint;
/// it must never carry a personal value (phone number, message text, key, password).
public struct LetheError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: LetheExitCode
    public var message: String
    public var hint: String?

    public init(_ code: LetheExitCode, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String {
        guard let hint else { return message }
        return "\(message)\nHINT: \(hint)"
    }

    public static func dataError(_ message: String, hint: String? = nil) -> LetheError { .init(.dataError, message, hint: hint) }
    public static func noInput(_ message: String, hint: String? = nil) -> LetheError { .init(.noInput, message, hint: hint) }
    public static func unavailable(_ message: String, hint: String? = nil) -> LetheError { .init(.unavailable, message, hint: hint) }
    public static func software(_ message: String, hint: String? = nil) -> LetheError { .init(.software, message, hint: hint) }
    public static func config(_ message: String, hint: String? = nil) -> LetheError { .init(.config, message, hint: hint) }
    public static func integrity(_ message: String, hint: String? = nil) -> LetheError { .init(.integrity, message, hint: hint) }
    public static func ioError(_ message: String, hint: String? = nil) -> LetheError { .init(.ioError, message, hint: hint) }
}

extension LetheError {
    public static func usage(_ message: String, hint: String? = nil) -> LetheError { .init(.usage, message, hint: hint) }
}
