import Foundation

/// Files and keyrings for intake tests, in a fresh temp directory.
public enum IntakeFixture {
    public static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-intake-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
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
