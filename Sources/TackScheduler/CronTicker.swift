import Foundation
import Logging
import ServiceLifecycle
import TackCore
import TackRedis

/// Fires the cron table's ticks while this process holds the scheduler lease.
///
/// Each tick has an identity, job name + scheduled time, and is enqueued by one Lua script that
/// checks the caller still owns the lease, claims the tick and `XADD`s its job, atomically: a
/// stale leader (frozen, partitioned) enqueues nothing, and a tick claimed by one leader is never
/// enqueued by the next. The worker records `cron_runs(job, scheduled_for)` under a unique key,
/// so even a Redis that lost the claims (restart without AOF) cannot make a tick run twice.
///
/// The newest tick fired per job lives in Redis (`RedisKeys.schedulerJobs`), so a new leader
/// continues where the old one stopped and fires the ticks it missed, within each job's catch-up
/// window (see ``ScheduledJob/catchUp``).
///
/// The script touches the lease, the claim and the state hash (hash tag `{scheduler}`) and the
/// queue stream (`tack:q:{name}`): different slots. Tack runs one Redis, where that is fine; on
/// a Redis Cluster the queue stream would have to move into the scheduler's slot.
public final class CronTicker: Service, Sendable {
    /// Enqueues one tick. KEYS: lease, tick claim, queue stream, state hash. ARGV: owner, claim
    /// TTL (ms), job name, scheduled time (ms), now (ms), then the stream entry's fields.
    /// Returns -1 when the caller no longer owns the lease (nothing written), 0 when the tick was
    /// already claimed, 1 when it was enqueued.
    static let tickScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
        local last = tonumber(redis.call('HGET', KEYS[4], ARGV[3] .. ':last_tick') or '0')
        if tonumber(ARGV[4]) > last then
            redis.call('HSET', KEYS[4], ARGV[3] .. ':last_tick', ARGV[4])
        end
        if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
        redis.call('XADD', KEYS[3], '*', unpack(ARGV, 6))
        redis.call('HSET', KEYS[4], ARGV[3] .. ':enqueued_at', ARGV[5], ARGV[3] .. ':enqueued_tick', ARGV[4],
                   ARGV[3] .. ':enqueued_by', ARGV[1])
        return 1
        """
    )

    /// What the tick script answered.
    public enum Outcome: Int, Sendable {
        /// The caller does not own the lease: nothing was written.
        case notLeader = -1
        /// Another leader (or an earlier pass) already claimed the tick.
        case alreadyClaimed = 0
        /// The tick's job is in its queue.
        case enqueued = 1
    }

    let lease: SchedulerLease
    let jobs: [ConfiguredCronJob]
    let queue: JobQueue
    let redis: RedisClient
    let logger: Logger
    let maximumSleep: Duration

    /// Creates the ticker for the enabled `jobs`; it schedules only while `lease` leads.
    public init(
        lease: SchedulerLease,
        jobs: [ConfiguredCronJob],
        queue: JobQueue,
        redis: RedisClient,
        logger: Logger,
        maximumSleep: Duration = .seconds(1)
    ) {
        self.lease = lease
        self.jobs = jobs
        self.queue = queue
        self.redis = redis
        self.logger = logger
        self.maximumSleep = maximumSleep
    }

    /// Waits for leadership, ticks while leading, and waits again, until graceful shutdown.
    public func run() async throws {
        logger.info("cron table", metadata: ["tack.scheduler.jobs": "\(jobs.map { "\($0.job.name)=\($0.schedule)" }.joined(separator: ", "))"])
        for await state in lease.stateChanges.cancelOnGracefulShutdown() {
            guard state == .leading else { continue }
            await tickWhileLeading()
        }
    }

    /// The leader's loop: fire what is due, sleep until the next tick (at most `maximumSleep`, so
    /// a lost lease is noticed promptly), repeat while the lease holds.
    func tickWhileLeading() async {
        var lastFired: [String: Date] = [:]
        var loaded = false
        while lease.isLeading && !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if !loaded {
                    lastFired = try await loadLastFired(now: Date())
                    loaded = true
                }
                if try await fireDue(lastFired: &lastFired, now: Date()) == .notLeader { break }
            } catch {
                logger.warning("could not enqueue cron ticks; retrying", metadata: ["tack.error": "\(error)"])
            }
            let now = Date()
            let next = jobs.map { $0.schedule.next(after: max(lastFired[$0.job.name] ?? now, now)) }.min() ?? now.addingTimeInterval(1)
            let wait = min(maximumSleep, .milliseconds(max(1, Int64((next.timeIntervalSince(now) * 1000).rounded(.up)))))
            try? await gracefulShutdownOrSleep(wait)
        }
    }

    /// Reads the newest tick fired per job; a job never fired starts from `now` (no catch-up
    /// for a job the cluster has never run), recorded so the next leader starts there too.
    func loadLastFired(now: Date) async throws -> [String: Date] {
        let reply = try await redis.send("HGETALL", RedisKeys.schedulerJobs)
        var fields: [String: String] = [:]
        let items = reply.array ?? []
        for i in stride(from: 0, to: items.count - 1, by: 2) {
            if let k = items[i].string, let v = items[i + 1].string { fields[k] = v }
        }
        var result: [String: Date] = [:]
        for entry in jobs {
            if let ms = fields[entry.job.name + ":last_tick"].flatMap(Int64.init) {
                result[entry.job.name] = Date(timeIntervalSince1970: Double(ms) / 1000)
            } else {
                let ms = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
                _ = try await redis.send("HSETNX", RedisKeys.schedulerJobs, entry.job.name + ":last_tick", ms)
                result[entry.job.name] = Date(timeIntervalSince1970: Double(ms) / 1000)
            }
        }
        return result
    }

    /// Enqueues every due tick of every job once; stops at the first `.notLeader`.
    func fireDue(lastFired: inout [String: Date], now: Date) async throws -> Outcome? {
        var last: Outcome?
        for entry in jobs {
            guard let from = lastFired[entry.job.name] else { continue }
            for tick in Self.dueTicks(schedule: entry.schedule, catchUp: entry.job.catchUp, lastFired: from, now: now) {
                // Checked before each tick: a leader past its renew deadline stops at once.
                guard lease.isLeading else { return .notLeader }
                let outcome = try await fire(entry, at: tick)
                last = outcome
                switch outcome {
                case .notLeader:
                    logger.warning(
                        "tick not enqueued: this process no longer holds the scheduler lease",
                        metadata: ["tack.cron.job": "\(entry.job.name)", "tack.cron.tick": "\(Timestamp.string(from: tick))"]
                    )
                    return .notLeader
                case .alreadyClaimed:
                    logger.debug(
                        "tick already enqueued by another leader",
                        metadata: ["tack.cron.job": "\(entry.job.name)", "tack.cron.tick": "\(Timestamp.string(from: tick))"]
                    )
                case .enqueued:
                    let late = now.timeIntervalSince(tick)
                    logger.log(
                        level: late > 2 ? .info : .debug,
                        "\(late > 2 ? "enqueued a missed tick" : "enqueued tick")",
                        metadata: ["tack.cron.job": "\(entry.job.name)", "tack.cron.tick": "\(Timestamp.string(from: tick))"]
                    )
                }
                lastFired[entry.job.name] = tick
            }
        }
        return last
    }

    /// Runs the tick script for one tick.
    public func fire(_ entry: ConfiguredCronJob, at tick: Date) async throws -> Outcome {
        let scheduledFor = Int64((tick.timeIntervalSince1970 * 1000).rounded())
        let payload = CronTick(job: entry.job.name, scheduledFor: scheduledFor, leader: lease.owner)
        let job = try NewJob(kind: entry.job.kind, arguments: payload, id: payload.jobID)
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        // A claim must outlive any chance of the tick being considered again: the catch-up window
        // plus a margin for clock skew between scheduler hosts.
        let claimTTL = entry.job.catchUp + .seconds(3600)
        let args: [any RedisArgumentConvertible] =
            [lease.owner, claimTTL.wholeMilliseconds, entry.job.name, scheduledFor, now]
            + job.streamFields(enqueuedAt: now).map { $0 as any RedisArgumentConvertible }
        let reply = try await redis.evaluate(
            Self.tickScript,
            keys: [
                RedisKeys.schedulerLeader, RedisKeys.schedulerTick(job: entry.job.name, scheduledFor: scheduledFor),
                RedisKeys.queue(try queue.queue(for: entry.job.kind)), RedisKeys.schedulerJobs,
            ],
            args: args
        )
        guard let outcome = reply.int.flatMap(Outcome.init(rawValue:)) else {
            throw RedisError(.replyError, "unexpected reply from the tick script: \(reply)")
        }
        return outcome
    }

    /// The ticks to fire after `lastFired`, up to `now`, oldest first: every tick inside the
    /// catch-up window; when the window holds none, only the newest missed tick (if any).
    public static func dueTicks(schedule: CronSchedule, catchUp: Duration, lastFired: Date, now: Date, limit: Int = 10_000) -> [Date] {
        let windowStart = now.addingTimeInterval(-catchUp.inSeconds)
        var newestBeforeWindow: Date?
        var cursor = lastFired
        if cursor < windowStart {
            // Walk to the window, remembering only the newest tick (bounded: a job idle for years).
            var steps = 0
            while steps < 1_000_000 {
                let fire = schedule.next(after: cursor)
                guard fire < windowStart, fire > cursor else { break }
                newestBeforeWindow = fire
                cursor = fire
                steps += 1
            }
        }
        let inside = schedule.fireTimes(after: cursor, through: now, limit: limit)
        if inside.isEmpty, let newestBeforeWindow { return [newestBeforeWindow] }
        return inside
    }
}
