import Foundation
import Logging
import PostgresNIO
import TackCore

/// Enqueues again the `exports.board` jobs Redis lost (a crash before its AOF reached the disk, a
/// failover to a replica that had not received them), as `WebhookDispatcher` does for deliveries.
///
/// The web role enqueues an export's job when it records the export (`enqueued_at`), and each
/// attempt marks it alive; an export still pending and not seen for `lostAfter` (the same rule as
/// webhook deliveries: three times the longest retry wait) is enqueued again under the same job id.
/// The job is idempotent, so a job thought lost that was only slow costs at worst a second write of
/// the same file.
public struct ExportRequeue: Sendable {
    let postgres: PostgresClient
    let queue: JobQueue
    let lostAfter: Duration
    let logger: Logger

    /// Creates the sweep; `retryMaxDelay` is `worker.retry_max_delay`.
    public init(postgres: PostgresClient, queue: JobQueue, retryMaxDelay: Duration, logger: Logger) {
        self.postgres = postgres
        self.queue = queue
        self.lostAfter = WebhookDispatcher.lostAfter(retryMaxDelay: retryMaxDelay)
        self.logger = logger
    }

    static let batch = 100

    /// One sweep; returns true when it hit the batch limit.
    @discardableResult
    public func sweepOnce() async throws -> Bool {
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            let rows = try await tx.query(
                """
                SELECT id FROM exports
                WHERE status = 'pending' AND enqueued_at < now() - make_interval(secs => \(lostAfter.wholeMilliseconds) / 1000.0)
                ORDER BY enqueued_at LIMIT \(Self.batch) FOR UPDATE SKIP LOCKED
                """,
                logger: logger
            )
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            guard !ids.isEmpty else { return false }
            try await queue.enqueue(try ids.map { try ExportJobArguments.job(exportID: $0) })
            try await tx.query("UPDATE exports SET enqueued_at = now() WHERE id = ANY(\(ids))", logger: logger)
            logger.notice("export jobs lost in Redis enqueued again", metadata: ["tack.exports": "\(ids)"])
            return ids.count >= Self.batch
        }
    }
}
