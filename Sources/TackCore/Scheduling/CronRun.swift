import Foundation
import Logging
import PostgresNIO

/// The record of one periodic job's run (`cron_runs`), as `status` shows it.
public struct CronRun: Sendable {
    /// The tick it ran for.
    public var scheduledFor: Date
    /// When a worker started it.
    public var startedAt: Date
    /// When it finished, if it has.
    public var finishedAt: Date?

    /// The latest run of every job that ran, by job name; empty while the database is not migrated.
    public static func latest(postgres: PostgresClient, logger: Logger) async -> [String: CronRun] {
        var runs: [String: CronRun] = [:]
        do {
            let rows = try await postgres.boundedQuery(
                """
                SELECT DISTINCT ON (job) job, scheduled_for, started_at, finished_at
                FROM cron_runs ORDER BY job, scheduled_for DESC
                """,
                logger: logger
            )
            for try await (job, scheduled, started, finished) in rows.decode((String, Date, Date, Date?).self) {
                runs[job] = CronRun(scheduledFor: scheduled, startedAt: started, finishedAt: finished)
            }
        } catch {
            logger.debug("cron_runs not readable", metadata: ["tack.error": "\(error)"])
        }
        return runs
    }
}
