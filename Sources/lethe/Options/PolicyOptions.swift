import ArgumentParser
import Foundation
import Policy

struct PolicyOptions: ParsableArguments {
    @Option(name: .customLong("policy"), help: ArgumentHelp("Policy file (default: LETHE_POLICY, then Policies/default.yaml).", valueName: "file"))
    var policyPath: String?

    var path: String {
        policyPath ?? ProcessInfo.processInfo.environment["LETHE_POLICY"] ?? "Policies/default.yaml"
    }

    func load() throws -> RetentionPolicy { try PolicyLoader.load(path: path) }
}
