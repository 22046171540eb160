import Foundation
import LetheCore

public enum FileDigest {
    /// SHA-256 of a file, hex, read in 1 MiB pieces.
    public static func sha256(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw LetheError.noInput("cannot read \(path)") }
        defer { try? handle.close() }
        let hasher = try SHA256Hasher()
        while let chunk = try handle.readChunk(upToCount: 1 << 20, what: path) { try hasher.update(Array(chunk)) }
        return Hex.encode(try hasher.finish())
    }
}
