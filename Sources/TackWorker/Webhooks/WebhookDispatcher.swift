import Foundation
import Logging
import PostgresNIO
import TackCore

/// Turns board events into webhook deliveries and enqueues their jobs (every worker runs it).
///
/// Each webhook keeps a cursor (`dispatched_version`): a sweep locks the webhooks whose cursor is
/// behind their board's version (`SKIP LOCKED`, so concurrent workers share the work), inserts one
/// delivery per matching event under a unique (webhook, version) key and advances the cursor, in one
/// transaction. Deliveries are enqueued afterwards and marked `enqueued_at`; a crash in between
/// leaves them unmarked and the next sweep enqueues them. So no event is skipped, whatever crashes,
/// and a delivery may at worst be attempted twice: receivers deduplicate on `X-Tack-Delivery`.
///
/// A job can also be lost after it was enqueued (Redis crashing before its AOF reached the disk, a
/// failover to a replica that had not received it). Each attempt marks its delivery alive
/// (`enqueued_at`); a delivery still pending and not seen for `lostAfter` (three times the longest
/// retry wait, `worker.retry_max_delay`, which also caps `Retry-After`'s 3,600 s at the default) is
/// enqueued again under the same id.
public struct WebhookDispatcher: Sendable {
    let postgres: PostgresClient
    let queue: JobQueue
    /// How long a pending delivery may go without an attempt before its job counts as lost.
    let lostAfter: Duration
    let logger: Logger

    /// Creates the dispatcher; `retryMaxDelay` is `worker.retry_max_delay`.
    public init(postgres: PostgresClient, queue: JobQueue, retryMaxDelay: Duration, logger: Logger) {
        self.postgres = postgres
        self.queue = queue
        self.lostAfter = Self.lostAfter(retryMaxDelay: retryMaxDelay)
        self.logger = logger
    }

    /// How long a pending delivery (or export) may go without an attempt before its job counts as
    /// lost: three times the longest retry wait, at least three hours.
    public static func lostAfter(retryMaxDelay: Duration) -> Duration {
        max(retryMaxDelay, .seconds(3600)) * 3
    }

    /// One sweep; returns true when it hit a batch limit (more work is waiting).
    @discardableResult
    public func sweepOnce() async throws -> Bool {
        let created = try await createDeliveries()
        let enqueued = try await enqueuePending()
        return created >= Self.eventsPerWebhook || enqueued >= Self.enqueueBatch
    }

    static let eventsPerWebhook = 500
    static let enqueueBatch = 1000

    /// Creates deliveries for events past each lagging webhook's cursor; returns the most events one webhook advanced.
    private func createDeliveries() async throws -> Int {
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            let lagging = try await tx.query(
                """
                SELECT w.id, w.board_id, w.dispatched_version, w.events, b.version
                FROM webhooks w JOIN boards b ON b.id = w.board_id
                WHERE w.active AND w.dispatched_version < b.version
                ORDER BY w.id LIMIT 100
                FOR UPDATE OF w SKIP LOCKED
                """,
                logger: logger
            )
            var hooks: [(Int64, Int64, Int64, [String], Int64)] = []
            for try await row in lagging.decode((Int64, Int64, Int64, [String], Int64).self) { hooks.append(row) }
            var most = 0
            for (webhookID, boardID, cursor, filter, boardVersion) in hooks {
                let upTo = min(boardVersion, cursor + Int64(Self.eventsPerWebhook))
                try await tx.query(
                    """
                    INSERT INTO webhook_deliveries (id, webhook_id, board_id, event_version, event_id, event_kind)
                    SELECT 'wh' || \(webhookID)::text || '-' || e.id::text, \(webhookID), e.board_id, e.version, e.id, e.kind
                    FROM events e
                    WHERE e.board_id = \(boardID) AND e.version > \(cursor) AND e.version <= \(upTo)
                      AND (cardinality(\(filter)::text[]) = 0 OR e.kind = ANY(\(filter)::text[]))
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
                try await tx.query("UPDATE webhooks SET dispatched_version = \(upTo) WHERE id = \(webhookID)", logger: logger)
                most = max(most, Int(upTo - cursor))
            }
            return most
        }
    }

    /// Enqueues delivery jobs not yet enqueued, and again those whose job was lost; returns how many.
    private func enqueuePending() async throws -> Int {
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            let lostAfter = self.lostAfter.wholeMilliseconds
            let rows = try await tx.query(
                """
                SELECT id FROM webhook_deliveries
                WHERE enqueued_at IS NULL
                   OR (status = 'pending' AND enqueued_at < now() - make_interval(secs => \(lostAfter) / 1000.0))
                ORDER BY created_at LIMIT \(Self.enqueueBatch) FOR UPDATE SKIP LOCKED
                """,
                logger: logger
            )
            var ids: [String] = []
            for try await id in rows.decode(String.self) { ids.append(id) }
            guard !ids.isEmpty else { return 0 }
            try await queue.enqueue(
                try ids.map { try NewJob(kind: WebhookDeliveryJobs.kind, arguments: WebhookDeliveryJobs.Arguments(deliveryID: $0), id: $0) }
            )
            try await tx.query("UPDATE webhook_deliveries SET enqueued_at = now() WHERE id = ANY(\(ids))", logger: logger)
            return ids.count
        }
    }
}
