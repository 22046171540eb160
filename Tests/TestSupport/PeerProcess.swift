import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real program a test talks to (node_exporter, Prometheus): started by the test on loopback with its output in a
/// temporary log, stopped (SIGTERM, then SIGKILL) when the test drops it.
public final class PeerProcess {
    public let name: String
    public let logPath: String
    private let process = Process()

    public init(_ executable: String, _ arguments: [String]) throws {
        name = (executable as NSString).lastPathComponent
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("peer-\(name)-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = process.standardOutput
        try process.run()
    }

    /// The tail of its log, for failure messages.
    public var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return "\(name): " + text.split(separator: "\n").suffix(8).joined(separator: "\n")
    }

    public var isRunning: Bool { process.isRunning }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if !KnownPoint.until(seconds: 10, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice, released at once).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CocoaError(.fileWriteUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// GET `url` and its body; nil when nothing answers (yet).
    public static func get(_ url: String) -> Data? {
        try? Data(contentsOf: URL(string: url)!)
    }
}
