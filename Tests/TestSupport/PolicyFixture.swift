import Foundation
import Policy

public enum PolicyFixture {
    /// The default policy with another partition layout for the partitioned tables.
    public static func policy(interval: String, create: Bool = true) throws -> RetentionPolicy {
        try PolicyLoader.parse(yaml: try text(interval: interval, create: create), source: "default.yaml (\(interval))")
    }

    /// The default policy's text with another partition layout.
    public static func text(interval: String, create: Bool = true) throws -> String {
        let path = LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path
        let daily = "partitioning: { interval: P1D, ahead: P30D }"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.contains(daily) else { throw PolicyFixtureError.layoutLineMissing(path) }
        return text.replacingOccurrences(of: daily, with: "partitioning: { interval: \(interval), ahead: P30D, create: \(create) }")
    }

    /// The monthly policy as a file, for the binary: written once per process under the build directory (never
    /// the temporary directory, which tests leave clean), replaced atomically.
    public static func monthlyPolicyPath() throws -> String {
        try monthlyPolicyFile.value()
    }

    /// The default policy with monthly partitions: what fixtures build unless partitions are their subject. A
    /// year of the daily layout is ~850 tables, 6 s of server CPU per test database, for tests about rows.
    public static func monthlyPolicy() throws -> RetentionPolicy { try policy(interval: "P1M") }

    /// A policy for an application's own tables, as an adopter writes one: `version`, `region: FR`, the
    /// `tables` given (YAML list items, two spaces in) and the default policy's `dpo`, `backup` and `schedule`.
    /// Written to `directory/name`; returns the path.
    /// `options`: top-level lines before `tables:` (e.g. `phone_without_plus: international\n`).
    public static func adoptedPolicyFile(tables: String, in directory: String, name: String = "adopted.yaml", options: String = "") throws -> String {
        let defaults = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
        guard let tail = defaults.range(of: "\ndpo:") else { throw PolicyFixtureError.layoutLineMissing("dpo:") }
        let path = directory + "/" + name
        try ("version: 1\nregion: FR\n" + options + "tables:\n" + tables + (tables.hasSuffix("\n") ? "" : "\n") + defaults[tail.lowerBound...])
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    public static func defaultPolicy() throws -> RetentionPolicy {
        try PolicyLoader.load(path: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
    }
}

enum PolicyFixtureError: Error { case layoutLineMissing(String) }

/// The monthly policy file, written once per process under the build directory.
let monthlyPolicyFile = MadeOnce<String> {
    let directory = LetheProcess.packageRoot.appendingPathComponent(".build/test-policies")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("monthly.yaml").path
    try PolicyFixture.text(interval: "P1M").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
