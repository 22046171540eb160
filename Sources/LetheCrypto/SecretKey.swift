/// Key material. It never prints itself: `description` shows only the length, so a key cannot
/// reach a log or an error message by accident.
public struct SecretKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, Equatable {
    private let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var count: Int { bytes.count }

    /// Generates a fresh key from OpenSSL's CSPRNG.
    public static func random(count: Int = 32) throws -> SecretKey { SecretKey(bytes: try SecureRandom.bytes(count)) }

    public func withBytes<T>(_ body: ([UInt8]) throws -> T) rethrows -> T { try body(bytes) }

    /// The raw bytes, for serialising into a keyring or wrapping under another key.
    public var unsafeRawBytes: [UInt8] { bytes }

    public var description: String { "SecretKey(\(bytes.count) bytes)" }
    public var debugDescription: String { description }
}
