import ArgumentParser
import Foundation
import LetheCore
import Logging
import Policy
import Postgres
import Worker

/// `--metrics-file PATH`: after the job, the Prometheus metrics file for node_exporter's textfile collector,
/// the same file the worker writes (counters read from the database, so every writer agrees).
struct MetricsFileOption: ParsableArguments {
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Write Prometheus metrics to PATH after the job (node_exporter textfile collector).", valueName: "path"))
    var path: String?

    /// Writes the file if asked; a failure to write it is a warning, never the job's outcome.
    func write(_ db: PostgresConnection, repositoryDirectory: String? = nil, inspectFindings: [String: Int64]? = nil) {
        guard let path, db.isAlive else { return }
        do {
            try MetricsReader(db, repositoryDirectory: repositoryDirectory).write(to: path, inspectFindings: inspectFindings)
        } catch {
            Terminal.warn("could not write the metrics file: \(error.asLetheError.message)")
        }
    }

    /// Runs a recorded one-shot job and writes the metrics file afterwards, whatever the outcome. Ends with the
    /// job's line (notice level: shown with --log-format json), which carries the audit chain's head.
    func recording<T>(_ job: JobName, _ db: PostgresConnection, repositoryDirectory: String? = nil,
                      _ body: () throws -> (T, JobResult)) throws -> T {
        defer { write(db, repositoryDirectory: repositoryDirectory) }
        let started = DispatchTime.now().uptimeNanoseconds
        let logger = Logger(label: "lethe.\(job.rawValue)")
        do {
            var ended = JobResult(detail: "")
            let value = try JobRuns.recordCommand(job, db: db) {
                let (value, result) = try body()
                ended = result
                return (value, result)
            }
            var metadata = JobLine.end(job, outcome: ended.succeeded ? .success : .failure, started: started, db: db)
            metadata["detail"] = "\(ended.detail)"
            logger.notice("job finished", metadata: metadata)
            return value
        } catch {
            logger.notice("job failed", metadata: JobLine.end(job, outcome: .failure, started: started, db: db))
            throw error
        }
    }
}
