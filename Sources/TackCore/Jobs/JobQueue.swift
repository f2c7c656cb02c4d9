import Foundation
import Logging
import TackRedis

/// The job queues in Redis: one stream per queue read by one consumer group, a sorted set of
/// retries per queue and a dead-letter stream per queue (see DESIGN.md, Jobs).
///
/// Producers call `enqueue`; workers use the consumer operations in `JobQueue+Consumer.swift`;
/// `./platform jobs` uses `JobQueue+Admin.swift`. Entries are deleted once acknowledged, so a
/// stream's length is what waits plus what is in flight.
public struct JobQueue: Sendable {
    let redis: RedisClient
    /// Job category → queue name.
    public let routes: [String: String]
    let logger: Logger

    /// Creates the queue API with the configured routing of job categories to queues.
    public init(redis: RedisClient, routes: [String: String], logger: Logger) {
        self.redis = redis
        self.routes = routes
        self.logger = logger
    }

    /// The distinct queue names, sorted.
    public var queueNames: [String] { Array(Set(routes.values)).sorted() }

    /// The queue a job kind goes to.
    ///
    /// - Throws: ``JobFailure`` (permanent) for a kind whose category is not configured: a bug, not an operator error.
    public func queue(for kind: String) throws -> String {
        guard let queue = routes[Job.category(of: kind)] else {
            throw JobFailure.permanent("job kind \(kind) has no queue: its category is not one of " + routes.keys.sorted().joined(separator: ", "))
        }
        return queue
    }

    /// Enqueues one job and returns its id.
    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> String {
        try await enqueue([job])
        return job.id
    }

    /// Enqueues jobs in pipelined batches (one round trip per thousand) and returns when Redis
    /// has them all. Order within one queue is kept.
    public func enqueue(_ jobs: [NewJob]) async throws {
        let now = Self.nowMilliseconds()
        var commands: [[any RedisArgumentConvertible]] = []
        commands.reserveCapacity(min(jobs.count, Self.batchSize))
        for job in jobs {
            let stored = Job(id: job.id, kind: job.kind, payload: job.payload, attempt: 1, enqueuedAt: now, lastError: nil)
            commands.append(["XADD", RedisKeys.queue(try queue(for: job.kind)), "*"] + stored.streamFields)
            if commands.count == Self.batchSize {
                try await send(commands)
                commands.removeAll(keepingCapacity: true)
            }
        }
        if !commands.isEmpty { try await send(commands) }
    }

    static let batchSize = 1000

    private func send(_ commands: [[any RedisArgumentConvertible]]) async throws {
        for reply in try await redis.pipeline(commands) {
            if let message = reply.errorMessage { throw RedisError(.replyError, "XADD failed: \(message)") }
        }
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
