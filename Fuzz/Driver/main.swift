import Foundation
import FuzzTargets

// The libFuzzer driver. The target is chosen by LETHE_FUZZ_TARGET (see `make fuzz`); a broken contract is a
// crash, which libFuzzer saves as a reproducer. SwiftPM gives executables their own `main`, so this one hands
// control to libFuzzer's driver instead of linking libFuzzer's `main`.

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

nonisolated(unsafe) var harness: FuzzHarness!
nonisolated(unsafe) var target = FuzzTarget.csv

let environment = ProcessInfo.processInfo.environment
guard let name = environment["LETHE_FUZZ_TARGET"], let chosen = FuzzTarget(rawValue: name) else {
    FileHandle.standardError.write(Data("set LETHE_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
    exit(64)
}
target = chosen
do {
    harness = try FuzzHarness(policyPath: environment["LETHE_POLICY"] ?? "Policies/default.yaml")
} catch {
    FileHandle.standardError.write(Data("cannot set up the fuzz harness: \(error)\n".utf8))
    exit(70)
}
atexit { harness?.close() }

/// One input through the chosen target (libFuzzer also looks this symbol up by name).
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        try harness.run(target, size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    } catch {
        fatalError("contract broken: \(error)")
    }
    return 0
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv, testOneInput))
