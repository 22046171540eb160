import ArgumentParser
import Foundation
import LetheCore
import Logging

/// A subcommand whose runtime errors become Lethe's documented exit codes. Usage errors are
/// ArgumentParser's (exit 64); everything else is reported once, on stderr, as what, where and a hint.
protocol LetheCommand: ParsableCommand {
    var global: GlobalOptions { get }
    /// Without -v: warnings and errors only, except for the worker, whose job lines are its record.
    var defaultLogLevel: Logger.Level { get }
    func execute() throws
}

extension LetheCommand {
    var defaultLogLevel: Logger.Level { .warning }

    func run() throws {
        global.bootstrapLogging(defaultLevel: defaultLogLevel)
        do {
            try execute()
        } catch let exit as ExitCode {
            throw exit
        } catch let error as CleanExit {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            let lethe = error.asLetheError
            Terminal.report(lethe, format: global.logFormat)
            throw ExitCode(lethe.code.rawValue)
        }
    }
}

enum Terminal {
    /// Set once at start-up: in JSON mode every stderr line is an ECS object, warnings and progress included.
    nonisolated(unsafe) static var format: LogFormat = .text

    static func report(_ error: LetheError, format: LogFormat) {
        switch format {
        case .text:
            var text = "lethe: error: \(error.message)\n"
            text += "HINT: \(error.hint ?? error.code.defaultHint)\n"
            FileHandle.standardError.write(Data(text.utf8))
        case .json:
            var metadata: Logger.Metadata = ["exit_code": .stringConvertible(error.code.rawValue), "error.message": "\(error.message)"]
            metadata["hint"] = "\(error.hint ?? error.code.defaultHint)"
            Logger(label: "lethe").error("\(error.message)", metadata: metadata)
        }
    }

    /// Progress lines for people at a terminal; scripts see only the report.
    static func progress(_ text: String) {
        guard format == .text else { return Logger(label: "lethe").info("\(text)") }
        FileHandle.standardError.write(Data("lethe: \(text)\n".utf8))
    }

    static func warn(_ text: String) {
        guard format == .text else { return Logger(label: "lethe").warning("\(text)") }
        FileHandle.standardError.write(Data("lethe: warning: \(text)\n".utf8))
    }
}
