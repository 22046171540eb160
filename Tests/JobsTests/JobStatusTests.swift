import Foundation
import Policy
import Postgres
import TestSupport
import Testing
import Jobs

/// `lethe status`'s overdue rule (issue 34): a job is overdue once it has not succeeded within its period plus a
/// twelfth (two hours for a daily job); a job that never ran is not overdue while the database was migrated less
/// than a period ago.
@Suite struct JobStatusTests {
    func purge(_ db: TestDatabase, _ policy: RetentionPolicy) throws -> JobStatus {
        try #require(try JobStatus.all(db.connection, policy: policy).first { $0.job == "purge" })
    }

    func succeeded(_ db: TestDatabase, hoursAgo: Double) throws {
        try db.connection.execute("DELETE FROM lethe.job_runs")
        try db.connection.execute("""
            INSERT INTO lethe.job_runs (job, started_at, finished_at, outcome, started_by, host, os_pid)
            VALUES ('purge', now() - $1 * interval '1 hour', now() - $1 * interval '1 hour', 'success', 'command', 'test', 1)
            """, [.text(String(hoursAgo))])
    }

    @Test func aDailyJobIsOverdueAfterADayAndTwoHours() throws {
        let db = try TestDatabase()
        let policy = try PolicyFixture.monthlyPolicy()
        #expect(try !purge(db, policy).overdue, "never ran, but the database was migrated just now")
        try db.connection.execute("UPDATE lethe.schema_migrations SET applied_at = now() - interval '25 hours'")
        #expect(try !purge(db, policy).overdue, "migrated 25 hours ago: within a day and two hours")
        try db.connection.execute("UPDATE lethe.schema_migrations SET applied_at = now() - interval '26 hours 5 minutes'")
        #expect(try purge(db, policy).overdue, "never ran, migrated more than a period and a twelfth ago")
        try succeeded(db, hoursAgo: 25.9)
        #expect(try !purge(db, policy).overdue, "succeeded 25.9 hours ago")
        try succeeded(db, hoursAgo: 26.1)
        let late = try purge(db, policy)
        #expect(late.overdue && !late.healthy, "succeeded 26.1 hours ago")
    }
}
