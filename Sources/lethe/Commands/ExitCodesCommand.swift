import ArgumentParser
import LetheCore

struct ExitCodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit-codes",
        abstract: "List Lethe's exit codes and what each means (stable across versions)."
    )

    func run() {
        Output.table(["CODE", "MEANING"], LetheExitCode.allCases.map { [String($0.rawValue), $0.meaning] })
    }
}
