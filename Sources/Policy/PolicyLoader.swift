import Foundation
import LetheCore
import Yams

/// Reads and validates a policy file. Every problem is collected and reported as
/// `file:line: key.path: message`, and the whole file is refused (exit 65) if there is any.
public enum PolicyLoader {
    public static func load(path: String) throws(LetheError) -> RetentionPolicy {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw LetheError(exists ? .noPermission : .noInput, "cannot read policy file \(path)",
                             hint: exists ? "check the file's permissions" : "pass --policy FILE or set LETHE_POLICY")
        }
        return try parse(bytes: Array(data), source: path)
    }

    public static func parse(yaml: String, source: String) throws(LetheError) -> RetentionPolicy {
        try parse(bytes: Array(yaml.utf8), source: source)
    }

    public static func parse(bytes: [UInt8], source: String) throws(LetheError) -> RetentionPolicy {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .dataError("\(source): the policy file is not valid UTF-8")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw .dataError("\(source): not valid YAML: \(Self.describe(error))")
        } catch {
            throw .dataError("\(source): not valid YAML")
        }
        guard let root else { throw .dataError("\(source): the policy file is empty") }
        var builder = PolicyBuilder(issues: PolicyIssues(source: source))
        let built = builder.build(root: root, bytes: bytes)
        if let policy = built.policy, built.issues.list.isEmpty { return policy }
        throw .dataError(built.issues.list.joined(separator: "\n"), hint: "see Policies/default.yaml for a complete, valid policy")
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _): "line \(mark.line): \(problem)"
        default: "unreadable document"
        }
    }
}

/// Problems found in one policy file.
struct PolicyIssues {
    let source: String
    var list: [String] = []

    mutating func add(_ node: Node?, _ path: String, _ message: String) {
        let line = node?.mark.map { ":\($0.line)" } ?? ""
        list.append("\(source)\(line): \(path): \(message)")
    }
}
