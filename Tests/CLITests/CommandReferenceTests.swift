import Foundation
import TestSupport
import Testing

/// The docs say what the binary does: the README's command list and `docs/commands.md` are the command tree's
/// (`lethe --experimental-dump-help`, whose `discussion:` strings are the single source), and `lethe --help`
/// groups the commands by duty as the README does.
@Suite struct CommandReferenceTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// The top-level commands `lethe --help` shows, in its order.
    static func commandTree() throws -> [String] {
        let dump = try LetheProcess.run(["--experimental-dump-help"])
        #expect(dump.status == 0, "lethe --experimental-dump-help exited \(dump.status): \(dump.stderr.suffix(300))")
        let tree = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        let root = try #require(tree["command"] as? [String: Any])
        let subcommands = try #require(root["subcommands"] as? [[String: Any]])
        // `help` is swift-argument-parser's own, not one of Lethe's commands.
        return subcommands.filter { ($0["shouldDisplay"] as? Bool) ?? true }.compactMap { $0["commandName"] as? String }.filter { $0 != "help" }
    }

    @Test func theReadmeListsEveryCommandOnceAndNoOther() throws {
        let readme = try Self.file("README.md")
        #expect(readme.split(separator: "\n", omittingEmptySubsequences: false).count <= 150, "the README stays short: details go to docs/")
        let start = try #require(readme.range(of: "<!-- commands:"))
        let end = try #require(readme.range(of: "<!-- end of commands -->"))
        let listed = readme[start.upperBound..<end.lowerBound].split(separator: "\n")
            .filter { $0.hasPrefix("- `lethe ") }
            .map { String($0.dropFirst("- `lethe ".count).prefix { $0 != "`" && $0 != " " }) }
        let tree = try Self.commandTree()
        #expect(Set(listed) == Set(tree), "README lists \(listed.sorted()), the binary has \(tree.sorted())")
        #expect(listed.count == Set(listed).count, "a command listed twice: \(listed)")
    }

    @Test func theHelpGroupsCommandsByDutyAsTheReadmeDoes() throws {
        let help = try LetheProcess.run(["--help"])
        #expect(help.status == 0)
        let readme = try Self.file("README.md")
        for duty in ["Retention", "Data subjects", "Keys and encryption", "Backups", "Operations"] {
            #expect(help.stdout.contains(duty.uppercased() + " SUBCOMMANDS:"), "lethe --help has no group \(duty): \(help.stdout)")
            #expect(readme.contains("\n\(duty):\n"), "the README's command list has no group \(duty)")
        }
    }

    @Test func theCommandReferenceIsGeneratedFromTheTree() throws {
        let generated = try LetheProcess.run([LetheProcess.packageRoot.appendingPathComponent("scripts/command-reference.py").path, LetheProcess.binary],
                                             executable: "/usr/bin/python3")
        #expect(generated.status == 0, "scripts/command-reference.py exited \(generated.status): \(generated.stderr.suffix(300))")
        #expect(generated.stdout == (try Self.file("docs/commands.md")),
                "docs/commands.md is not the command tree's: run scripts/command-reference.py .build/debug/lethe > docs/commands.md")
        for command in try Self.commandTree() { #expect(generated.stdout.contains("## `lethe \(command)`")) }
    }

    /// Every page the README links exists, and the docs' links to each other resolve.
    @Test func everyLinkedPageExists() throws {
        let root = LetheProcess.packageRoot
        let pages = ["README.md", "CONTRIBUTING.md"] + (try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 })
        let link = try Regex(#"\]\(([^)#:]+\.md)(#[^)]*)?\)"#)
        for page in pages {
            let text = try Self.file(page)
            let base = page.contains("/") ? String(page.prefix { $0 != "/" }) : ""
            for match in text.matches(of: link) {
                let target = String(text[match.range].dropFirst(2).prefix { $0 != ")" && $0 != "#" })
                let path = base.isEmpty ? target : base + "/" + target
                let resolved = root.appendingPathComponent(path).standardizedFileURL.path
                #expect(FileManager.default.fileExists(atPath: resolved), "\(page) links \(target), which does not exist")
            }
        }
    }
}
