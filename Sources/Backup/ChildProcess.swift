import Foundation
import LetheCore

/// Runs pg_dump / pg_restore with pipes: Lethe feeds stdin or consumes stdout in pieces; stderr is kept (up to
/// 64 KiB) for the error message.
public final class ChildProcess {
    let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let stderrBox = Collected(limit: 65536)
    private let stdoutBox: Collected?
    private let name: String

    /// Bytes read from a pipe on a background thread, so the child never blocks on a full pipe.
    private final class Collected: Sendable {
        let data = Locked(Data())
        let limit: Int
        let done = DispatchSemaphore(value: 0)

        init(limit: Int) { self.limit = limit }

        func drain(_ handle: FileHandle) {
            DispatchQueue.global().async {
                while let chunk = try? handle.read(upToCount: 65536), !chunk.isEmpty {
                    self.data.withLock { if $0.count < self.limit { $0.append(chunk) } }
                }
                self.done.signal()
            }
        }

        func text() -> String {
            done.wait()
            return String(decoding: data.value, as: UTF8.self)
        }
    }

    static let setpriv = "/usr/bin/setpriv"

    /// With `collectingOutput`, stdout is gathered in the background (up to 16 MiB) and returned by `finish`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String], collectingOutput: Bool = false) throws {
        name = URL(fileURLWithPath: executable).lastPathComponent
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw LetheError.unavailable("\(executable) is not installed", hint: "install postgresql-client-15 (make deps does)")
        }
        // The child dies with Lethe: a killed restore must not leave pg_restore to commit what Lethe never
        // finished (the erasure replay), nor a pg_dump holding locks. setpriv (util-linux) sets PR_SET_PDEATHSIG
        // before exec; the signal follows the spawning thread, which waits for the child for its whole life.
        if FileManager.default.isExecutableFile(atPath: Self.setpriv) {
            process.executableURL = URL(fileURLWithPath: Self.setpriv)
            process.arguments = ["--pdeathsig", "KILL", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        stdoutBox = collectingOutput ? Collected(limit: 16 << 20) : nil
        // If the child exits early, writing to its stdin must fail with EPIPE, not kill this process.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        stderrBox.drain(stderrPipe.fileHandleForReading)
        stdoutBox?.drain(stdoutPipe.fileHandleForReading)
    }

    /// Reads stdout to the end in pieces. With `closingInput` false, another thread feeds stdin (`writeInput`,
    /// then `closeInput`) while this one reads.
    public func readOutput(closingInput: Bool = true, _ body: ([UInt8]) throws -> Void) throws {
        if closingInput { try stdinPipe.fileHandleForWriting.close() }
        let handle = stdoutPipe.fileHandleForReading
        while let chunk = try handle.readChunk(upToCount: 1 << 20, what: "the output of \(name)") { try body(Array(chunk)) }
    }

    /// Writes to stdin; false if the child closed it (it failed: see `finish`).
    public func writeInput(_ bytes: [UInt8]) -> Bool {
        do {
            try stdinPipe.fileHandleForWriting.write(contentsOf: bytes)
            return true
        } catch {
            return false
        }
    }

    public func closeInput() { try? stdinPipe.fileHandleForWriting.close() }

    /// Closes stdin, drains stdout, waits; returns the exit status, what the child said on stderr, and its
    /// collected stdout (empty unless `collectingOutput`).
    @discardableResult
    public func finish() -> (status: Int32, stderr: String, stdout: String) {
        try? stdinPipe.fileHandleForWriting.close()
        if stdoutBox == nil {
            let handle = stdoutPipe.fileHandleForReading
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {}
        }
        process.waitUntilExit()
        return (process.terminationStatus, stderrBox.text(), stdoutBox?.text() ?? "")
    }

    /// SIGKILL: the child inherits the spawning thread's signal mask, in which SIGTERM may be blocked (a
    /// pg_restore blocked on a full pipe then never ends).
    public func kill() {
        if process.isRunning { _ = Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// A short, single-paragraph form of the child's complaint for an error message.
    public static func summary(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n").prefix(6).map { $0.trimmingCharacters(in: .whitespaces) }
        return lines.isEmpty ? "no message" : lines.joined(separator: " | ")
    }
}
