import ArgumentParser
import LetheCore
import Logging

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "Log lines on stderr as 'text' or 'json' (one object per line, for ELK).")
    var logFormat: LogFormat = .text

    @Flag(name: .shortAndLong, help: "Log progress and decisions, not only warnings and errors.")
    var verbose = false

    func bootstrapLogging() {
        LetheLogging.bootstrap(format: logFormat, level: verbose ? .info : .warning)
    }
}

extension LogFormat: ExpressibleByArgument {}
