import Foundation
import LetheCore

/// Which libphonenumber this binary validates with, and how old its rules are: the numbering-plan metadata is
/// compiled into the library, so its age is the library's. Read from the system's package database and the
/// library file, only when asked (`lethe validate --version-info`).
public enum PhoneLibrary {
    public struct Info: Sendable, Encodable {
        public let version: String
        /// Build date of the library file: its metadata is no newer than this.
        public let builtOn: String
        public let path: String
    }

    public static func info() -> Info {
        let candidates = ["/usr/lib/x86_64-linux-gnu/libphonenumber.so.8", "/usr/lib/aarch64-linux-gnu/libphonenumber.so.8",
                          "/usr/lib/libphonenumber.so.8", "/usr/local/lib/libphonenumber.so"]
        let path = candidates.first { FileManager.default.fileExists(atPath: $0) } ?? "unknown"
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map {
            $0.hasPrefix("/") ? $0 : (path as NSString).deletingLastPathComponent + "/" + $0
        } ?? path
        let built = (try? FileManager.default.attributesOfItem(atPath: resolved)[.modificationDate] as? Date).map {
            String(Timestamps.iso($0).prefix(10))
        } ?? "unknown"
        return Info(version: debianVersion() ?? "unknown", builtOn: built, path: resolved)
    }

    /// The installed libphonenumber package's version, from dpkg's status file.
    private static func debianVersion() -> String? {
        guard let status = try? String(contentsOfFile: "/var/lib/dpkg/status", encoding: .utf8) else { return nil }
        for stanza in status.components(separatedBy: "\n\n") where stanza.hasPrefix("Package: libphonenumber8\n") {
            return stanza.split(separator: "\n").first { $0.hasPrefix("Version: ") }.map { String($0.dropFirst("Version: ".count)) }
        }
        return nil
    }
}
