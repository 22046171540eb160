// `make bench`: measures Lethe's jobs against the baselines each issue names, on the same data in the
// same run, and prints ratios. Connects through the PG* environment (scripts/with-postgres.sh).
// Usage: LetheBench [purge|steady|intake|backup|subject|worker|inspect|serve] [--scale S] [--lethe PATH] (no section: all but steady,
// which scripts/bench.sh runs against a second server whose clock libfaketime sets to 00:05 UTC)
import Foundation


let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let scale = Double(option("--scale") ?? ProcessInfo.processInfo.environment["SCALE"] ?? "1") ?? 1
let lethe = option("--lethe") ?? ProcessInfo.processInfo.environment["LETHE_BIN"] ?? ".build/release/lethe"
let known = ["purge", "steady", "intake", "backup", "subject", "worker", "inspect", "serve"]
let sections = arguments.first.flatMap { known.contains($0) ? [$0] : nil } ?? known.filter { $0 != "steady" }

do {
    for section in sections {
        switch section {
        case "purge": try PurgeBench(scale: scale, lethe: lethe).run()
        case "steady": try SteadyStateBench(scale: scale, lethe: lethe).run()
        case "worker": try WorkerBench(scale: scale, lethe: lethe).run()
        case "inspect": try InspectBench(scale: scale, lethe: lethe).run()
        case "intake": try IntakeBench(scale: scale, lethe: lethe).run()
        case "backup": try BackupBench(scale: scale, lethe: lethe).run()
        case "subject": try SubjectBench(scale: scale, lethe: lethe).run()
        case "serve": try ServeBench(scale: scale, lethe: lethe).run()
        default:
            FileHandle.standardError.write(Data("LetheBench: unknown section \(section)\n".utf8))
            exit(64)
        }
    }
} catch {
    FileHandle.standardError.write(Data("LetheBench: \(error)\n".utf8))
    exit(70)
}
