import ArgumentParser
import LetheCore

struct ExitCodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit-codes",
        abstract: "List Lethe's exit codes and what each means (stable across versions)."
    )

    @Flag(help: "Print the table in Markdown, as the README shows it.")
    var markdown = false

    func run() {
        if markdown {
            print("| code | meaning |\n| --- | --- |")
            for code in LetheExitCode.allCases { print("| \(code.rawValue) | \(code.meaning) |") }
            return
        }
        Output.table(["CODE", "MEANING"], LetheExitCode.allCases.map { [String($0.rawValue), $0.meaning] })
    }
}
