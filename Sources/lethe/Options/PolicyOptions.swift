import ArgumentParser
import Foundation
import LetheCore
import Policy

struct PolicyOptions: ParsableArguments {
    @Option(name: .customLong("policy"), help: ArgumentHelp("Policy file (default: LETHE_POLICY, then Policies/default.yaml in the working directory, then /etc/lethe/policy.yaml).", valueName: "file"))
    var policyPath: String?

    static let checkoutPolicy = "Policies/default.yaml"
    /// Where a deployed binary looks when nothing says otherwise.
    static let systemPolicy = "/etc/lethe/policy.yaml"

    var path: String {
        if let given = policyPath ?? ProcessInfo.processInfo.environment["LETHE_POLICY"] { return given }
        if FileManager.default.fileExists(atPath: Self.checkoutPolicy) || !FileManager.default.fileExists(atPath: Self.systemPolicy) {
            return Self.checkoutPolicy
        }
        return Self.systemPolicy
    }

    func load() throws -> RetentionPolicy {
        let explicit = policyPath != nil || ProcessInfo.processInfo.environment["LETHE_POLICY"] != nil
        if !explicit && !FileManager.default.fileExists(atPath: path) {
            throw LetheError.noInput("no policy: neither \(Self.checkoutPolicy) (in \(FileManager.default.currentDirectoryPath)) nor \(Self.systemPolicy) exists",
                                     hint: "pass --policy FILE, set LETHE_POLICY, or install the policy as \(Self.systemPolicy)")
        }
        return try PolicyLoader.load(path: path)
    }
}
