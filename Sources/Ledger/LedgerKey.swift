import Foundation
import LetheCore
import LetheCrypto

/// The key that authenticates the ledger's records (HMAC-SHA256): derived from the keyring (`lethe ledger init
/// --keyring`), so the keyring's offline copy can always re-derive it, and kept as a 0600 file on every host that
/// writes or reconciles the ledger (the worker holds no keyring).
public struct LedgerKey: Sendable {
    let key: SecretKey

    public init(_ key: SecretKey) { self.key = key }

    static let header = "lethe ledger key v1"

    /// Reads a key file written by `write`: refused (77) when others can read it, (79) when it is not one.
    public static func load(path: String) throws -> LedgerKey {
        let bytes = try SecureFile.readPrivate(path, what: "ledger key")
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.count == 2, lines[0] == header, let key = Hex.decode(lines[1]), key.count == 32 else {
            throw LetheError.integrity("\(path) is not a Lethe ledger key", hint: "write it again from the keyring: lethe ledger init --keyring FILE --ledger-key \(path)")
        }
        return LedgerKey(SecretKey(bytes: key))
    }

    /// Writes the key, mode 0600; refuses to overwrite a file.
    public func write(to path: String) throws {
        try key.withBytes { bytes in
            try SecureFile.createExclusive(path, contents: Array("\(Self.header)\n\(Hex.encode(bytes))\n".utf8))
        }
        try SecureFile.syncDirectory(of: path)
    }

    func mac(_ message: [UInt8]) throws -> [UInt8] { try HMACSHA256.authenticate(key: key, message: message) }

    /// A short, non-secret name of the key (its MAC of a fixed text), to tell two keys apart in reports.
    public var fingerprint: String { (try? Hex.encode(Array(mac(Array("lethe ledger key fingerprint".utf8)).prefix(8)))) ?? "?" }
}
