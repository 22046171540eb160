import Jobs
import LetheCore
import Policy
import TestSupport
import Testing
@testable import Worker

/// An unreachable database is retried with back-off, 1, 2, 4 … 60 seconds (issue 34), counted per tick, not
/// waited for: each tick says how long the worker sleeps.
@Suite struct WorkerBackOffTests {
    @Test func anUnreachableDatabaseIsRetriedWithDoublingPausesUpToAMinute() throws {
        let policy = try PolicyLoader.parse(yaml: try PolicyFixture.text(interval: "P1M"), source: "fixture")
        let worker = Worker(configuration: JobSettings(conninfo: "host=127.0.0.1 port=1 connect_timeout=1", policy: policy))
        let pauses = (0..<9).map { _ in worker.tick(stop: StopRequest()) }
        #expect(pauses.allSatisfy { !$0.connected && $0.ran.isEmpty })
        #expect(pauses.map(\.sleepSeconds) == [1, 2, 4, 8, 16, 32, 60, 60, 60])
    }
}
