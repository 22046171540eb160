import Foundation
import Jobs
import LetheCore
import Logging
import Policy
import Postgres
import Schema

/// The schedule around the jobs: which are due, one run per slot across every worker of a database, each
/// run recorded and logged (ECS fields), the metrics file rewritten after each. Synchronous: the service
/// (`WorkerService`) calls `tick` off the cooperative pool and sleeps between ticks.
public final class Worker: @unchecked Sendable {
    let configuration: JobSettings
    let logger: Logger
    /// The slot each job was last considered for, so a slot another worker ran is logged once as skipped.
    private var handledSlots: [JobName: Date] = [:]
    private var connectFailures = 0

    public init(configuration: JobSettings, logger: Logger = Logger(label: "lethe.worker")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// What a tick did, for `--once` and tests.
    public struct TickReport: Sendable {
        public var ran: [JobName: JobRuns.Outcome] = [:]
        public var skipped: [JobName] = []
        /// Seconds until the next slot of any job (how long the worker may sleep).
        public var sleepSeconds: Double = 60
        public var connected = true
        /// The database could not be checked or reconciled with its ledger: no job ran.
        public var reconcileFailed = false
    }

    /// Runs every job that is due at the database clock: one that never ran, or whose latest slot has passed
    /// since its last recorded run (by anyone). After downtime a job runs once, not once per missed slot.
    public func tick(stop: StopRequest) -> TickReport {
        var report = TickReport()
        let db: PostgresConnection
        do {
            db = try PostgresConnection(conninfo: configuration.conninfo)
            connectFailures = 0
        } catch {
            connectFailures += 1
            report.connected = false
            // Back off: 1, 2, 4 … 60 seconds between attempts while the database is unreachable.
            report.sleepSeconds = min(60, pow(2, Double(min(connectFailures - 1, 6))))
            logger.error("cannot reach the database; retrying", metadata: [
                "event.action": "connect", "event.outcome": "failure", "error.message": "\(error.asLetheError.message)",
                "retry_in_seconds": .stringConvertible(Int(report.sleepSeconds)),
            ])
            return report
        }
        // At start and before every job: a database rolled back behind its ledger is reconciled first.
        let ledger = LedgerGuard(settings: configuration, logger: logger)
        guard ledger.check(db) else {
            report.reconcileFailed = true
            return report
        }
        for job in JobName.allCases {
            guard !stop.isRequested else { break }
            guard let schedule = (configuration.policy?.schedule ?? [:])[job], !schedule.isOff else { continue }
            do {
                let now = try DatabaseClock.now(db)
                guard let slot = schedule.previous(atOrBefore: now) else { continue }
                if let handled = handledSlots[job], handled >= slot { continue }
                let last = try JobRuns(db).last(job)
                if let last, last.startedAt >= slot {
                    if handledSlots[job] != nil {
                        logger.info("skipped: this slot already ran elsewhere", metadata: [
                            "event.action": "\(job.rawValue)", "slot": "\(Timestamps.isoFractional(slot))",
                        ])
                        report.skipped.append(job)
                    }
                    handledSlots[job] = slot
                    continue
                }
                guard ledger.check(db) else {
                    report.reconcileFailed = true
                    break
                }
                handledSlots[job] = slot
                if let outcome = try runSlot(job, slot: slot, db: db, stop: stop) { report.ran[job] = outcome } else { report.skipped.append(job) }
            } catch {
                logger.error("could not schedule a job", metadata: ["event.action": "\(job.rawValue)", "error.message": "\(error.asLetheError.message)"])
                if !db.isAlive { break }
            }
        }
        // Each run already rewrote the file; a tick that ran nothing still publishes it (at start, and for the
        // runs of other workers or cron).
        if report.ran.isEmpty { writeMetrics(db) }
        report.sleepSeconds = secondsUntilNextSlot(db: db)
        return report
    }

    /// Runs `job` for `slot` through the runner every caller uses. Returns nil when skipped: a run holds the
    /// lock (another worker, or a one-shot command) or another worker already recorded this slot.
    private func runSlot(_ job: JobName, slot: Date, db: PostgresConnection, stop: StopRequest) throws -> JobRuns.Outcome? {
        let runner = JobRunner(db: db, settings: configuration, caller: .worker(slot: slot), stop: stop, logger: logger)
        do {
            guard let result = try runner.result(of: job.scheduled) else { return nil }
            return result.succeeded ? .success : .failure
        } catch is StopRequested {
            return .interrupted
        } catch {
            // Recorded and logged by the runner; the worker goes on to the next job.
            return .failure
        }
    }

    private func writeMetrics(_ db: PostgresConnection) {
        guard let path = configuration.metricsFile, db.isAlive else { return }
        do {
            try MetricsReader(db, repositoryDirectory: configuration.repositoryDirectory).write(to: path)
        } catch {
            logger.error("could not write the metrics file", metadata: ["event.action": "metrics", "error.message": "\(error.asLetheError.message)"])
        }
    }

    private func secondsUntilNextSlot(db: PostgresConnection) -> Double {
        guard db.isAlive, let now = try? DatabaseClock.now(db) else { return 1 }
        let next = JobName.allCases.compactMap { (configuration.policy?.schedule ?? [:])[$0]?.next(after: now) }.min()
        // Wake at least hourly to notice a clock jump; never spin.
        return max(0.05, min(3600, next.map { $0.timeIntervalSince(now) } ?? 3600))
    }
}
