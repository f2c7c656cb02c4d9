import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TackCore
import TackRedis

/// The scheduler's leadership: a Redis lease taken with `SET NX PX` and renewed by an owner-checked
/// script, so exactly one scheduler schedules while the others wait as hot standbys.
///
/// A leader that could not renew within `renewDeadline` stands down before its lease (`leaseTTL`)
/// can expire, so two processes never both believe they lead. The lease only decides who works;
/// the tick enqueue fences on the lease again (see DESIGN.md, Scheduler).
public final class SchedulerLease: Service, Sendable {
    /// Leadership as seen by this process.
    public enum State: Sendable, Equatable {
        /// Not yet tried.
        case starting
        /// This process holds the lease.
        case leading
        /// Another process holds the lease (its owner token, if known).
        case standby(leader: String?)
    }

    /// Extend the lease only if we still own it. Returns 1 when renewed.
    static let renewScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """
    )

    /// Delete the lease only if we still own it, so a stale leader never frees a successor's lease,
    /// and wake one waiting standby (KEYS[2], the handover list; the token expires if nobody waits).
    static let releaseScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('DEL', KEYS[1], KEYS[2])
            redis.call('RPUSH', KEYS[2], ARGV[1])
            redis.call('PEXPIRE', KEYS[2], 5000)
            return 1
        end
        return 0
        """
    )

    /// This process's owner token: its registry id plus a random suffix, unique across restarts.
    public let owner: String
    let redis: RedisClient
    let timings: TackConfiguration.Scheduler
    let logger: Logger
    let state = Mutex<State>(.starting)
    /// When the lease was last taken or renewed (while leading), for `isLeading`'s deadline check.
    let lastRenewalAt = Mutex<ContinuousClock.Instant>(.now)
    let changes: AsyncStream<State>
    let changesContinuation: AsyncStream<State>.Continuation

    /// Creates the lease for process `processID`.
    public init(processID: String, redis: RedisClient, timings: TackConfiguration.Scheduler, logger: Logger) {
        self.owner = processID + "#" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        self.redis = redis
        self.timings = timings
        self.logger = logger
        (changes, changesContinuation) = AsyncStream.makeStream(of: State.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The current state.
    public var current: State { state.withLock { $0 } }

    /// True while this process may schedule: it leads and renewed within the renew deadline.
    ///
    /// The deadline is checked here too, not only by the renew loop, because after a freeze
    /// (SIGSTOP, a long GC-like stall) the tick loop may run before the renew loop notices.
    public var isLeading: Bool {
        current == .leading && ContinuousClock.now - lastRenewalAt.withLock { $0 } < timings.renewDeadline
    }

    /// Tries to lead until graceful shutdown; releases the lease on the way out.
    public func run() async throws {
        var lastRenewal = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if current == .leading {
                // The lease runs from when Redis extended it, which is after we sent the request.
                let renewStart = ContinuousClock.now
                do {
                    let renewed = try await redis.evaluate(
                        Self.renewScript,
                        keys: [RedisKeys.schedulerLeader],
                        args: [owner, timings.leaseTTL.wholeMilliseconds]
                    )
                    if renewed.int == 1 {
                        lastRenewal = renewStart
                        lastRenewalAt.withLock { $0 = lastRenewal }
                    } else {
                        logger.warning("lost the scheduler lease to another process; standing by", metadata: ["tack.scheduler.owner": "\(owner)"])
                        set(.standby(leader: nil))
                    }
                } catch {
                    logger.warning("could not renew the scheduler lease", metadata: ["tack.error": "\(error)"])
                }
                if current == .leading && ContinuousClock.now - lastRenewal >= timings.renewDeadline {
                    logger.warning(
                        "no lease renewal within the renew deadline; stopping scheduling before the lease can expire",
                        metadata: ["tack.scheduler.deadline": "\(timings.renewDeadline)"]
                    )
                    set(.standby(leader: nil))
                }
                try? await gracefulShutdownOrSleep(current == .leading ? timings.renewInterval : jittered(timings.retryInterval))
            } else {
                let attemptStart = ContinuousClock.now
                do {
                    let reply = try await redis.send("SET", RedisKeys.schedulerLeader, owner, "NX", "PX", timings.leaseTTL.wholeMilliseconds)
                    if reply.string == "OK" {
                        lastRenewal = attemptStart
                        lastRenewalAt.withLock { $0 = attemptStart }
                        logger.info("this process is now the scheduler leader", metadata: ["tack.scheduler.owner": "\(owner)"])
                        set(.leading)
                        continue
                    }
                    let holder = try await redis.send("GET", RedisKeys.schedulerLeader).string
                    if current != .standby(leader: holder) {
                        logger.info("standing by; another scheduler leads", metadata: ["tack.scheduler.leader": "\(holder ?? "none")"])
                        set(.standby(leader: holder))
                    }
                } catch {
                    logger.warning("could not reach Redis for the scheduler lease", metadata: ["tack.error": "\(error)"])
                }
                await waitForHandover(jittered(timings.retryInterval))
            }
        }
        if current == .leading {
            set(.standby(leader: nil))
            do {
                _ = try await redis.evaluate(Self.releaseScript, keys: [RedisKeys.schedulerLeader, RedisKeys.schedulerHandover], args: [owner])
                logger.info("released the scheduler lease for a standby to take over")
            } catch {
                logger.warning("could not release the scheduler lease; it expires on its own", metadata: ["tack.error": "\(error)"])
            }
        }
        changesContinuation.finish()
    }

    /// State changes, newest first-come; for the tick loop to start and stop scheduling.
    public var stateChanges: AsyncStream<State> { changes }

    private func set(_ new: State) {
        let changed = state.withLock { old -> Bool in
            defer { old = new }
            return old != new
        }
        if changed { changesContinuation.yield(new) }
    }

    /// A standby's wait between attempts: up to `duration`, cut short when a leader releases the
    /// lease (its release script pushes to the handover list), or by graceful shutdown.
    private func waitForHandover(_ duration: Duration) async {
        let start = ContinuousClock.now
        do {
            try await cancelWhenGracefulShutdown {
                try await self.redis.withBlockingConnection { connection in
                    let seconds = duration.inSeconds
                    _ = try await connection.send(
                        ["BLPOP", RedisKeys.schedulerHandover, String(format: "%.3f", seconds)],
                        timeout: duration + .seconds(5)
                    )
                }
            }
        } catch {
            // Redis unreachable (or shutting down): wait out the rest of the interval the plain way.
            let left = duration - (ContinuousClock.now - start)
            if left > .zero { try? await gracefulShutdownOrSleep(left) }
        }
    }

    /// The retry interval ± 25 %, so standbys do not retry in lock step.
    private func jittered(_ d: Duration) -> Duration {
        let ms = Double(d.wholeMilliseconds)
        return .milliseconds(Int64(ms * Double.random(in: 0.75...1.25)))
    }
}
