import Foundation
import LetheCore
import Logging
import ServiceLifecycle

/// The worker as a service of a swift-service-lifecycle `ServiceGroup`, which owns the process's lifetime:
/// on SIGTERM or SIGINT no new job starts, the running one stops at its next safe point (recorded as
/// interrupted), and the service returns.
public struct WorkerService: Service {
    let worker: Worker
    /// `--once`: one tick (every job due now), then return.
    let once: Bool
    let onTick: @Sendable (Worker.TickReport) -> Void

    public init(worker: Worker, once: Bool, onTick: @escaping @Sendable (Worker.TickReport) -> Void = { _ in }) {
        self.worker = worker
        self.once = once
        self.onTick = onTick
    }

    public func run() async throws {
        let stop = StopRequest()
        await withGracefulShutdownHandler {
            while !stop.isRequested {
                let report = await Self.offThePool { worker.tick(stop: stop) }
                onTick(report)
                if once { return }
                // One sleep until the next slot, cut short by a shutdown request: no wake-ups while idle.
                try? await cancelWhenGracefulShutdown {
                    try await Task.sleep(nanoseconds: UInt64(report.sleepSeconds * 1e9))
                }
            }
        } onGracefulShutdown: {
            stop.request()
        }
    }

    /// Jobs block on libpq and child processes: run them on a thread of their own, not the cooperative pool.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}

extension WorkerService {
    /// Runs the worker in a `ServiceGroup` that turns SIGTERM and SIGINT into a graceful shutdown, blocking the
    /// calling (command-line) thread until the service returns.
    /// `alongside`: services of the same process that live and stop with the worker (`lethe serve`'s socket).
    public static func runBlocking(worker: Worker, once: Bool, logger: Logger, alongside: [any Service] = [],
                                   onTick: @escaping @Sendable (Worker.TickReport) -> Void) throws {
        let service = WorkerService(worker: worker, once: once, onTick: onTick)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)]
                + alongside.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let finished = DispatchSemaphore(value: 0)
        let failure = Locked<(any Error)?>(nil)
        Task {
            do { try await group.run() } catch { failure.withLock { $0 = error } }
            finished.signal()
        }
        finished.wait()
        if let error = failure.value { throw error }
    }
}
