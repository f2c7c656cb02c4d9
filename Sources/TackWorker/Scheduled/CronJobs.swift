import Foundation
import Logging
import PostgresNIO
import TackCore

/// Runs the scheduler's ticks (`ScheduledJob.all`), each at most once.
///
/// Every tick first records `cron_runs(job, scheduled_for)`, whose primary key is the tick's
/// identity: a second delivery of the same tick (a retried enqueue, a Redis that lost the tick
/// claims) finds the row, counts itself in `duplicate_deliveries` and does not run the body.
/// Bodies that are plain SQL run in the same transaction as that insert, so a crash rolls both
/// back and the redelivery runs the tick for real; the others (prune) are idempotent and run after
/// it, again on a redelivery that finds the run unfinished.
public struct CronJobs: JobHandler {
    let postgres: PostgresClient
    let reminderLeadTime: Duration
    let retention: TackConfiguration.Retention
    let logger: Logger

    /// API tokens revoked longer ago than this are deleted by `purge_sessions`.
    static let revokedTokenRetention: Duration = .seconds(30 * 86400)
    /// Rows one prune statement deletes, so the nightly prune never holds long locks.
    static let pruneBatch = 5000

    /// Creates the handler.
    public init(config: TackConfiguration, postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.reminderLeadTime = config.scheduler.reminderLeadTime
        self.retention = config.retention
        self.logger = logger
    }

    public var kinds: [String] { ScheduledJob.all.map(\.kind) }

    public func perform(_ job: Job) async throws {
        let tick = try job.decode(CronTick.self)
        guard let definition = ScheduledJob.named(tick.job), definition.kind == job.kind else {
            throw JobFailure.permanent("tick \(job.id) names job \(tick.job), which does not run as \(job.kind)")
        }
        let scheduledFor = tick.scheduledDate
        let logger = self.logger
        let transactional = definition.runsInTransaction
        let firstRun = try await postgres.withBoundedTransaction(logger: logger) { tx -> Bool in
            let rows = try await tx.query(
                """
                INSERT INTO cron_runs (job, scheduled_for, enqueued_by)
                VALUES (\(tick.job), \(scheduledFor), \(tick.leader))
                ON CONFLICT (job, scheduled_for) DO UPDATE SET duplicate_deliveries = cron_runs.duplicate_deliveries + 1
                RETURNING (xmax = 0), finished_at
                """,
                logger: logger
            )
            var inserted = false
            var finished = true
            for try await (isNew, finishedAt) in rows.decode((Bool, Date?).self) {
                inserted = isNew
                finished = finishedAt != nil
            }
            if !inserted {
                logger.warning(
                    "cron tick delivered again; not running it twice",
                    metadata: ["tack.cron.job": "\(tick.job)", "tack.job.id": "\(job.id)"]
                )
                // An unfinished idempotent run (its worker died) is finished by this delivery.
                return !transactional && !finished
            }
            if transactional {
                try await runInTransaction(definition, tick: tick, on: tx)
                try await tx.query(
                    """
                    UPDATE cron_runs SET finished_at = clock_timestamp() WHERE job = \(tick.job) AND scheduled_for = \(scheduledFor)
                    """,
                    logger: logger
                )
            }
            return true
        }
        guard firstRun, !transactional else { return }
        if definition == .prune { try await prune() }
        try await postgres.boundedQuery(
            """
            UPDATE cron_runs SET finished_at = clock_timestamp() WHERE job = \(tick.job) AND scheduled_for = \(scheduledFor)
            """,
            logger: logger
        )
    }

    /// Bodies that are SQL only, in the transaction that recorded the run.
    func runInTransaction(_ job: ScheduledJob, tick: CronTick, on tx: PostgresConnection) async throws {
        switch job {
        case .reminders:
            let sent = try await sendReminders(on: tx)
            if sent > 0 { logger.info("sent due-date reminders", metadata: ["tack.reminders.notifications": "\(sent)"]) }
        case .purgeSessions:
            try await purgeSessions(on: tx)
        case .boardSnapshots:
            try await snapshotBoards(day: tick.scheduledDate, on: tx)
        default:
            break  // probe: the cron_runs row is the whole job
        }
    }

    /// One `due_soon` notification per recipient for each card due within the lead time that has
    /// no reminder for its current due date yet. The `card_reminders` insert decides (ON CONFLICT
    /// DO NOTHING), so concurrent runs, redeliveries and a due date moved back and forth never
    /// remind twice. Recipients: the assignees, or the creator when there are none, if still members.
    /// Returns the number of notifications inserted.
    func sendReminders(on tx: PostgresConnection) async throws -> Int {
        let leadSeconds = reminderLeadTime.inSeconds
        let rows = try await tx.query(
            """
            WITH due AS (
                SELECT c.id, c.board_id, c.title, c.due_at, c.created_by
                FROM cards c JOIN boards b ON b.id = c.board_id
                WHERE c.due_at IS NOT NULL AND NOT c.done AND NOT c.archived AND b.archived_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM columns col WHERE col.id = c.column_id AND col.archived_at IS NOT NULL)
                  AND c.due_at > now() AND c.due_at <= now() + make_interval(secs => \(leadSeconds))
            ), claimed AS (
                INSERT INTO card_reminders (card_id, due_at)
                SELECT id, due_at FROM due
                ON CONFLICT (card_id, due_at) DO NOTHING
                RETURNING card_id, due_at
            ), recipients AS (
                SELECT d.id AS card_id, d.board_id, d.title, d.due_at, r.user_id
                FROM claimed k
                JOIN due d ON d.id = k.card_id
                CROSS JOIN LATERAL (
                    SELECT a.user_id FROM card_assignees a WHERE a.card_id = d.id
                    UNION
                    SELECT d.created_by WHERE d.created_by IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM card_assignees a2 WHERE a2.card_id = d.id)
                ) r
                JOIN board_members m ON m.board_id = d.board_id AND m.user_id = r.user_id
            ), inserted AS (
                INSERT INTO notifications (user_id, kind, board_id, card_id, payload)
                SELECT user_id, 'due_soon', board_id, card_id, jsonb_build_object('title', title, 'due_at', due_at)
                FROM recipients
                RETURNING 1
            )
            SELECT count(*)::BIGINT FROM inserted
            """,
            logger: logger
        )
        var count: Int64 = 0
        for try await n in rows.decode(Int64.self) { count = n }
        return Int(count)
    }

    /// Deletes expired sessions and API tokens revoked more than 30 days ago.
    func purgeSessions(on tx: PostgresConnection) async throws {
        let revokedSeconds = Self.revokedTokenRetention.inSeconds
        let rows = try await tx.query(
            """
            WITH s AS (DELETE FROM sessions WHERE expires_at < now() RETURNING 1),
                 t AS (DELETE FROM api_tokens WHERE revoked_at < now() - make_interval(secs => \(revokedSeconds)) RETURNING 1)
            SELECT (SELECT count(*) FROM s)::BIGINT, (SELECT count(*) FROM t)::BIGINT
            """,
            logger: logger
        )
        for try await (sessions, tokens) in rows.decode((Int64, Int64).self) where sessions + tokens > 0 {
            logger.info(
                "purged expired sessions and revoked tokens",
                metadata: ["tack.purge.sessions": "\(sessions)", "tack.purge.tokens": "\(tokens)"]
            )
        }
    }

    /// Counts cards and done cards per column of every live board for `day` (UTC); a re-run of
    /// the same day replaces its figures.
    func snapshotBoards(day: Date, on tx: PostgresConnection) async throws {
        let dayText = String(Timestamp.string(from: day).prefix(10))
        try await tx.query(
            """
            INSERT INTO board_snapshots (board_id, day, column_id, cards, done)
            SELECT col.board_id, \(dayText)::DATE, col.id,
                   count(c.id) FILTER (WHERE NOT c.archived), count(c.id) FILTER (WHERE NOT c.archived AND c.done)
            FROM columns col
            JOIN boards b ON b.id = col.board_id AND b.archived_at IS NULL AND col.archived_at IS NULL
            LEFT JOIN cards c ON c.column_id = col.id
            GROUP BY col.board_id, col.id
            ON CONFLICT (board_id, day, column_id) DO UPDATE SET cards = EXCLUDED.cards, done = EXCLUDED.done
            """,
            logger: logger
        )
    }

    /// Deletes history older than its retention, in batches. Board events go only when published,
    /// dispatched to every active webhook of the board, and not the board's latest version (the
    /// version counter and resume both start from it).
    func prune() async throws {
        var deleted: [String: Int64] = [:]
        if let keep = retention.webhookDeliveries {
            deleted["webhook_deliveries"] = try await batches { [postgres, logger] limit in
                try await postgres.boundedQuery(
                    """
                    WITH d AS (
                        DELETE FROM webhook_deliveries WHERE id IN (
                            SELECT id FROM webhook_deliveries
                            WHERE status <> 'pending' AND created_at < now() - make_interval(secs => \(keep.inSeconds))
                            LIMIT \(limit))
                        RETURNING 1)
                    SELECT count(*)::BIGINT FROM d
                    """,
                    logger: logger
                )
            }
        }
        if let keep = retention.events {
            deleted["events"] = try await batches { [postgres, logger] limit in
                try await postgres.boundedQuery(
                    """
                    WITH d AS (
                        DELETE FROM events WHERE (board_id, version) IN (
                            SELECT e.board_id, e.version FROM events e JOIN boards b ON b.id = e.board_id
                            WHERE e.created_at < now() - make_interval(secs => \(keep.inSeconds))
                              AND e.published_at IS NOT NULL AND e.version < b.version
                              AND NOT EXISTS (SELECT 1 FROM webhooks w
                                              WHERE w.board_id = e.board_id AND w.active AND w.dispatched_version < e.version)
                            LIMIT \(limit))
                        RETURNING 1)
                    SELECT count(*)::BIGINT FROM d
                    """,
                    logger: logger
                )
            }
        }
        if let keep = retention.cronRuns {
            deleted["cron_runs"] = try await batches { [postgres, logger] limit in
                try await postgres.boundedQuery(
                    """
                    WITH d AS (
                        DELETE FROM cron_runs WHERE (job, scheduled_for) IN (
                            SELECT job, scheduled_for FROM cron_runs
                            WHERE started_at < now() - make_interval(secs => \(keep.inSeconds))
                            LIMIT \(limit))
                        RETURNING 1)
                    SELECT count(*)::BIGINT FROM d
                    """,
                    logger: logger
                )
            }
        }
        logger.info(
            "pruned old history",
            metadata: ["tack.prune.deleted": "\(deleted.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"]
        )
    }

    /// Repeats one batched delete until a batch comes back short; returns the rows deleted.
    private func batches(_ delete: @Sendable (Int) async throws -> BoundedRows) async throws -> Int64 {
        var total: Int64 = 0
        while true {
            var count: Int64 = 0
            for try await n in try await delete(Self.pruneBatch).decode(Int64.self) { count = n }
            total += count
            if count < Int64(Self.pruneBatch) { return total }
        }
    }
}
