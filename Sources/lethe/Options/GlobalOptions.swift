import ArgumentParser
import LetheCore
import Logging

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "Log lines on stderr as 'text' or 'json' (one object per line, for ELK).")
    var logFormat: LogFormat = .text

    @Flag(name: .shortAndLong, help: "Log progress and decisions, not only warnings and errors.")
    var verbose = false

    func bootstrapLogging(defaultLevel: Logger.Level = .warning) {
        Terminal.format = logFormat
        // JSON lines feed a log store: each job's final line (notice) goes there too, with the audit chain's head.
        LetheLogging.bootstrap(format: logFormat, level: verbose ? .info : logFormat == .json ? min(defaultLevel, .notice) : defaultLevel)
    }
}

extension LogFormat: ExpressibleByArgument {}
