import Foundation
import Logging
import PostgresNIO
import TackCore

/// Enqueues again the jobs of recorded work that Redis lost (a crash before its AOF reached the
/// disk, a failover to a replica that had not received them): board exports and board imports, as
/// `WebhookDispatcher` does for deliveries.
///
/// The web role enqueues the job when it records the row (`enqueued_at`), and each attempt marks it
/// alive; a row still open and not seen for `lostAfter` (the same rule as webhook deliveries: three
/// times the longest retry wait) is enqueued again under the same job id. The jobs are idempotent,
/// so a job thought lost that was only slow costs at worst a second write of the same export file
/// (an import is marked done in the transaction that makes its board: a second run makes nothing).
public struct LostJobRequeue: Sendable {
    /// Which rows are open work, and the job of each.
    public struct Work: Sendable {
        /// The table (a constant, never input).
        let table: String
        /// The statuses of rows whose job is still to run.
        let open: [String]
        let job: @Sendable (Int64) throws -> NewJob

        /// Board exports (`exports.board`).
        public static let exports = Work(table: "exports", open: ["pending"]) { try ExportJobArguments.job(exportID: $0) }
        /// Board imports (`imports.board`); a running one whose worker died is open too.
        public static let imports = Work(table: "imports", open: ["pending", "running"]) { try ImportJobArguments.job(importID: $0) }
    }

    let work: Work
    let postgres: PostgresClient
    let queue: JobQueue
    let lostAfter: Duration
    let logger: Logger

    /// Creates the sweep; `retryMaxDelay` is `worker.retry_max_delay`.
    public init(_ work: Work, postgres: PostgresClient, queue: JobQueue, retryMaxDelay: Duration, logger: Logger) {
        self.work = work
        self.postgres = postgres
        self.queue = queue
        self.lostAfter = WebhookDispatcher.lostAfter(retryMaxDelay: retryMaxDelay)
        self.logger = logger
    }

    static let batch = 100

    /// One sweep; returns true when it hit the batch limit.
    @discardableResult
    public func sweepOnce() async throws -> Bool {
        let work = self.work
        return try await postgres.withBoundedTransaction(logger: logger) { tx in
            let rows = try await tx.query(
                """
                SELECT id FROM \(unescaped: work.table)
                WHERE status = ANY(\(work.open)) AND enqueued_at < now() - make_interval(secs => \(lostAfter.wholeMilliseconds) / 1000.0)
                ORDER BY enqueued_at LIMIT \(Self.batch) FOR UPDATE SKIP LOCKED
                """,
                logger: logger
            )
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            guard !ids.isEmpty else { return false }
            try await queue.enqueue(try ids.map { try work.job($0) })
            try await tx.query("UPDATE \(unescaped: work.table) SET enqueued_at = now() WHERE id = ANY(\(ids))", logger: logger)
            logger.notice("jobs lost in Redis enqueued again", metadata: ["tack.table": "\(work.table)", "tack.ids": "\(ids)"])
            return ids.count >= Self.batch
        }
    }
}
