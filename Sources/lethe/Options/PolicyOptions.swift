import ArgumentParser
import Foundation
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

    func load() throws -> RetentionPolicy { try PolicyLoader.load(path: path) }
}
