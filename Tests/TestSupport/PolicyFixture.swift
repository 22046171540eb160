import Foundation
import Policy

public enum PolicyFixture {
    /// The default policy with another partition layout for the partitioned tables.
    public static func policy(interval: String, create: Bool = true) throws -> RetentionPolicy {
        let path = LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "partitioning: { interval: P1D, ahead: P30D }",
                                  with: "partitioning: { interval: \(interval), ahead: P30D, create: \(create) }")
        return try PolicyLoader.parse(yaml: text, source: "default.yaml (\(interval))")
    }

    public static func defaultPolicy() throws -> RetentionPolicy {
        try PolicyLoader.load(path: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
    }
}
