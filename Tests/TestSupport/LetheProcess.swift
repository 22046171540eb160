import Foundation

/// Runs the built `lethe` binary as an operator's script would, capturing exit code and output.
public struct LetheProcess {
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The binary under test: LETHE_BIN, else `lethe` beside the test bundle in the build directory.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["LETHE_BIN"] { return path }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("lethe").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return ".build/debug/lethe"
    }

    /// The package root, so that `Policies/default.yaml` resolves as for an operator in a checkout.
    public static var packageRoot: URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory.deleteLastPathComponent()
        }
        return directory
    }

    /// The binary set up as an operator would run it: from the package root, without the caller's LETHE_DATABASE_URL,
    /// plus `extra`. Without `--policy` or a LETHE_POLICY in `extra`, the policy is the default one with monthly
    /// partitions (`PolicyFixture.monthlyPolicyPath`): tests about the daily layout say so with
    /// `--policy Policies/default.yaml`; an empty LETHE_POLICY in `extra` means none (the binary's own search).
    public static func configured(_ arguments: [String], environment extra: [String: String] = [:], executable: String? = nil) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? binary)
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "LETHE_DATABASE_URL")
        environment.removeValue(forKey: "LETHE_POLICY")
        if !arguments.contains("--policy"), extra["LETHE_POLICY"] == nil, let monthly = try? PolicyFixture.monthlyPolicyPath() {
            environment["LETHE_POLICY"] = monthly
        }
        for (key, value) in extra where !(key == "LETHE_POLICY" && value.isEmpty) { environment[key] = value }
        process.environment = environment
        return process
    }

    @discardableResult
    public static func run(_ arguments: [String], environment extra: [String: String] = [:], stdin: String? = nil,
                           executable: String? = nil) throws -> Outcome {
        let process = configured(arguments, environment: extra, executable: executable)
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
    }
}
