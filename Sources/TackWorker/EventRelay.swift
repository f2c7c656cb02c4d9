import Logging
import TackCore

/// Publishes board events that committed but never reached Redis (the web process crashed between
/// commit and publish, or Redis was down), so live clients and webhooks never miss one.
///
/// Every worker runs it; concurrent relays are harmless because publishing is idempotent (the
/// publish script skips versions the stream already holds). Only events older than `grace` are
/// taken, so the relay does not race the web process that is about to publish them itself.
public struct EventRelay: Sendable {
    let log: EventLog
    let publisher: EventPublisher
    let grace: Duration
    let batchSize: Int
    let logger: Logger

    /// Creates the relay.
    public init(log: EventLog, publisher: EventPublisher, grace: Duration = .seconds(5), batchSize: Int = 500, logger: Logger) {
        self.log = log
        self.publisher = publisher
        self.grace = grace
        self.batchSize = batchSize
        self.logger = logger
    }

    /// Publishes one batch of unpublished events; returns true when the batch was full and all of
    /// it was published (more are probably waiting).
    public func sweepOnce() async throws -> Bool {
        let pending = try await log.unpublished(olderThan: grace, limit: batchSize)
        guard !pending.isEmpty else { return false }
        let done = await publisher.publish(pending)
        logger.info("relayed unpublished board events", metadata: ["tack.relay.found": "\(pending.count)", "tack.relay.published": "\(done.count)"])
        return pending.count == batchSize && done.count == pending.count
    }
}
