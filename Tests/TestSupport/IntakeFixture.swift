import Foundation

/// Files and keyrings for intake tests, in a fresh temp directory.
public enum IntakeFixture {
    /// A private temporary directory (keyrings, exports, backups live there), removed when the test process ends.
    public static func directory(prefix: String = "lethe-intake") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        TemporaryDirectories.remember(path)
        return path
    }

    public static func write(_ text: String, name: String, in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Known people: numbers in national form (FR) and the words of their messages.
    public static let people: [(national: String, e164: String, digits: String, message: String)] = [
        ("06 12 34 56 78", "+33612345678", "612345678", "Rendez-vous reçu mardi 14h chez Dr Mercier"),
        ("07 98 76 54 32", "+33798765432", "798765432", "Votre colis Zanzibar est arrivé au relais"),
        ("06 55 44 33 22", "+33655443322", "655443322", "Code secret Pelican 884213"),
    ]

    public static func messagesCSV(extraHeader: String? = nil, rows: [String]? = nil) -> String {
        var lines = ["phone,message" + (extraHeader.map { ",\($0)" } ?? "")]
        lines += rows ?? people.map { "\"\($0.national)\",\"\($0.message)\"" + (extraHeader != nil ? ",x@example.com" : "") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Directories the tests made, removed at exit: they hold keyrings and decrypted exports.
enum TemporaryDirectories {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var registered = false

    static func remember(_ path: String) {
        lock.withLock {
            paths.append(path)
            if !registered {
                registered = true
                atexit { TemporaryDirectories.removeAll() }
            }
        }
    }

    static func removeAll() {
        for path in lock.withLock({ paths }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
