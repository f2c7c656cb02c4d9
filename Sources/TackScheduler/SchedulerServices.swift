import Foundation
import Logging
import ServiceLifecycle
import TackCore
import TackRedis

/// Builds the scheduler role's services for `run scheduler` and for tests: the lease, and the
/// ticker that fires the enabled cron jobs while the lease is held.
public func buildSchedulerServices(
    config: TackConfiguration,
    processID: String,
    redis: RedisClient,
    logger: Logger
) -> (lease: SchedulerLease, services: [any Service]) {
    let lease = SchedulerLease(processID: processID, redis: redis, timings: config.scheduler, logger: logger)
    let queue = JobQueue(redis: redis, routes: config.queues, logger: logger)
    let ticker = CronTicker(lease: lease, jobs: config.scheduler.jobs, queue: queue, redis: redis, logger: logger)
    return (lease, [lease, ticker])
}

/// The owner token of the scheduler lease's holder, or nil when nobody leads; for
/// `run scheduler --exit-if-active`, before the role's services start (with a client of its own).
public func currentSchedulerLeader(config: TackConfiguration, logger: Logger) async throws -> String? {
    let redis = try Clients.makeRedis(config, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await redis.run() }
        defer { group.cancelAll() }
        return try await redis.sendChecked("GET", RedisKeys.schedulerLeader).string
    }
}

/// The scheduler's view of one cron job for `status`: its schedule, the newest tick fired and
/// who enqueued it (from Redis), and the next tick.
public struct CronJobState: Codable, Sendable {
    /// `ScheduledJob.name`.
    public var name: String
    /// The schedule in this node's config, or "off".
    public var schedule: String
    /// Whether the job is enabled in this node's config.
    public var enabled: Bool
    /// The newest tick enqueued, in milliseconds since 1970.
    public var lastEnqueuedTick: Int?
    /// The owner token of the scheduler that enqueued it.
    public var lastEnqueuedBy: String?
    /// The next tick, in milliseconds since 1970 (enabled jobs only).
    public var nextTick: Int?

    /// Reads every job of the cron table's state.
    public static func read(config: TackConfiguration, redis: RedisClient, now: Date = Date()) async throws -> [CronJobState] {
        let reply = try await redis.sendChecked("HGETALL", RedisKeys.schedulerJobs)
        let items = reply.array?.compactMap(\.string) ?? []
        var fields: [String: String] = [:]
        for i in stride(from: 0, to: items.count - 1, by: 2) { fields[items[i]] = items[i + 1] }
        return ScheduledJob.all.map { job in
            let configured = config.scheduler.jobs.first { $0.job.name == job.name }
            let lastTick = fields[job.name + ":last_tick"].flatMap(Int.init)
            var next: Int?
            if let schedule = configured?.schedule {
                let after = max(now, Date(timeIntervalSince1970: Double(lastTick ?? 0) / 1000))
                let date = schedule.next(after: after)
                if date != .distantFuture { next = Int((date.timeIntervalSince1970 * 1000).rounded()) }
            }
            return CronJobState(
                name: job.name,
                schedule: configured.map { "\($0.schedule)" } ?? "off",
                enabled: configured != nil,
                lastEnqueuedTick: fields[job.name + ":enqueued_tick"].flatMap(Int.init),
                lastEnqueuedBy: fields[job.name + ":enqueued_by"],
                nextTick: next
            )
        }
    }
}
