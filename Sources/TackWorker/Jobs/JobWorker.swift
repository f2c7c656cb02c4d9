import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TackCore
import TackRedis

/// Consumes jobs from Redis queues (DESIGN.md, Jobs): reads new jobs with `XREADGROUP` as slots
/// free up, runs up to `worker.concurrency` at once, acknowledges finished ones in batches,
/// retries failures with exponential backoff and jitter, buries jobs out of attempts (or handed out
/// too often without finishing) in the dead-letter stream, claims back jobs of dead workers after the
/// visibility timeout, and keeps extending the claim of its own long jobs.
///
/// On graceful shutdown it stops reading, lets running jobs finish and acknowledges them; a job cut
/// off by a hard stop stays pending and another worker claims it back.
public final class JobWorker: Service, Sendable {
    let queue: JobQueue
    let queues: [String]
    let handlers: [String: any JobHandler]
    let settings: TackConfiguration.Worker
    let redis: RedisClient
    let logger: Logger
    /// This worker's consumer name in the groups (its registry process id).
    public let consumer: String
    let slots: Slots
    let acks = PendingAcks()
    let running = RunningJobs()
    let stopping = Mutex(false)
    let counters = Mutex(Counters())

    /// What this worker did, for logs and tests.
    public struct Counters: Sendable, Equatable {
        /// Jobs finished and acknowledged.
        public var succeeded = 0
        /// Jobs scheduled for a retry.
        public var retried = 0
        /// Jobs moved to the dead-letter stream.
        public var buried = 0
        /// Jobs claimed back from silent workers.
        public var reclaimed = 0
    }

    /// Creates a worker for `queues` with the handlers of every kind it may meet.
    public init(
        queue: JobQueue,
        queues: [String],
        handlers: [any JobHandler],
        settings: TackConfiguration.Worker,
        redis: RedisClient,
        consumer: String,
        logger: Logger
    ) {
        self.queue = queue
        self.queues = queues
        var byKind: [String: any JobHandler] = [:]
        for handler in handlers { for kind in handler.kinds { byKind[kind] = handler } }
        self.handlers = byKind
        self.settings = settings
        self.redis = redis
        self.consumer = consumer
        self.logger = logger
        self.slots = Slots(capacity: settings.concurrency)
    }

    /// What this worker has done so far.
    public var done: Counters { counters.withLock { $0 } }

    /// Consumes until graceful shutdown.
    public func run() async throws {
        guard await prepareGroups() else { return }
        logger.info(
            "consuming jobs",
            metadata: [
                "tack.worker.queues": "\(queues.joined(separator: ","))",
                "tack.worker.concurrency": "\(settings.concurrency)",
            ]
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.flushAcknowledgements() }
            group.addTask { await self.maintain() }
            try await redis.withBlockingConnection { connection in
                await self.readLoop(connection: connection, group: &group)
            }
            // Let running jobs finish, then stop the helpers after a last flush.
            await slots.waitUntilIdle()
            stopping.withLock { $0 = true }
            acks.close()
        }
        let done = self.done
        logger.info(
            "stopped consuming jobs",
            metadata: [
                "tack.worker.succeeded": "\(done.succeeded)", "tack.worker.retried": "\(done.retried)",
                "tack.worker.buried": "\(done.buried)", "tack.worker.reclaimed": "\(done.reclaimed)",
            ]
        )
    }

    private func prepareGroups() async -> Bool {
        var warned = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await queue.ensureGroups(queues)
                return true
            } catch {
                if !warned { logger.warning("cannot prepare the job queues in Redis; retrying", metadata: ["tack.error": "\(error)"]) }
                warned = true
                try? await gracefulShutdownOrSleep(.seconds(1))
            }
        }
        return false
    }

    // MARK: - Reading

    private func readLoop(connection: RedisBlockingConnection, group: inout ThrowingDiscardingTaskGroup<any Error>) async {
        let reclaimEvery = max(Duration.seconds(1), settings.visibilityTimeout / 4)
        var nextReclaim = ContinuousClock.now
        var failing = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let free = await slots.acquireAvailable()
            if free == 0 { break }
            if Task.isShuttingDownGracefully || Task.isCancelled {
                slots.release(free)
                break
            }
            var deliveries: [JobDelivery] = []
            do {
                if ContinuousClock.now >= nextReclaim {
                    nextReclaim = .now + reclaimEvery
                    deliveries = try await reclaim(limit: free)
                }
                if deliveries.isEmpty {
                    deliveries = try await queue.read(on: connection, queues: queues, consumer: consumer, count: free, block: .seconds(1))
                }
                if failing { logger.info("reading jobs from Redis again") }
                failing = false
            } catch is CancellationError {
                slots.release(free)
                break
            } catch {
                if !failing { logger.warning("cannot read jobs from Redis; retrying", metadata: ["tack.error": "\(error)"]) }
                failing = true
                slots.release(free)
                try? await gracefulShutdownOrSleep(.milliseconds(500))
                continue
            }
            slots.release(free - deliveries.count)
            for delivery in deliveries {
                group.addTask {
                    await self.execute(delivery)
                    self.slots.release(1)
                }
            }
        }
    }

    /// Jobs of dead workers, except those handed out too often (buried here).
    private func reclaim(limit: Int) async throws -> [JobDelivery] {
        var result: [JobDelivery] = []
        for name in queues where result.count < limit {
            for delivery in try await queue.reclaim(name, consumer: consumer, minIdle: settings.visibilityTimeout, count: limit - result.count) {
                // `deliveries` counts this one: more than the cap means the cap was already handed out unfinished.
                if delivery.deliveries > settings.maxDeliveries {
                    await bury(
                        delivery,
                        error:
                            "handed out \(delivery.deliveries - 1) times without finishing: the worker running it died or stalled each time (last error: \(delivery.job?.lastError ?? "none"))"
                    )
                } else {
                    result.append(delivery)
                }
            }
        }
        if !result.isEmpty {
            counters.withLock { $0.reclaimed += result.count }
            logger.info("claimed back jobs of a silent worker", metadata: ["tack.worker.reclaimed": "\(result.count)"])
        }
        return result
    }

    // MARK: - Running one job

    func execute(_ delivery: JobDelivery) async {
        guard let job = delivery.job else {
            await bury(delivery, error: "malformed job entry (missing id, kind, attempt or payload)")
            return
        }
        guard let handler = handlers[job.kind] else {
            await bury(delivery, error: "no handler for job kind \(job.kind) in this version of Tack")
            return
        }
        running.start(delivery)
        defer { running.finish(delivery) }
        do {
            try await handler.perform(job)
            acks.add(queue: delivery.queue, entryID: delivery.entryID)
            counters.withLock { $0.succeeded += 1 }
        } catch {
            let failure = error as? JobFailure
            let message = failure?.message ?? String(describing: error)
            if failure?.isPermanent == true {
                await bury(delivery, error: message)
            } else if job.attempt >= settings.maxAttempts {
                await bury(delivery, error: "gave up after \(job.attempt) attempts: \(message)")
            } else {
                let delay = failure?.retryAfter ?? backoff(attempt: job.attempt)
                do {
                    try await queue.scheduleRetry(delivery, job: job, error: message, due: Date().addingTimeInterval(delay.inSeconds))
                    counters.withLock { $0.retried += 1 }
                    logger.info(
                        "job failed; will retry",
                        metadata: [
                            "tack.job.id": "\(job.id)", "tack.job.kind": "\(job.kind)",
                            "tack.job.attempt": "\(job.attempt)", "tack.job.retry_in": "\(delay)",
                            "tack.error": "\(message)",
                        ]
                    )
                } catch {
                    // Left pending: claimed back after the visibility timeout and run again.
                    logger.warning(
                        "could not schedule a retry; the job will be claimed back",
                        metadata: ["tack.job.id": "\(job.id)", "tack.error": "\(error)"]
                    )
                }
            }
        }
    }

    /// Exponential backoff with ±25% jitter, capped.
    func backoff(attempt: Int) -> Duration {
        let base = settings.retryBaseDelay.inSeconds * pow(2, Double(max(0, attempt - 1)))
        let capped = min(base, settings.retryMaxDelay.inSeconds)
        return .milliseconds(Int64(capped * Double.random(in: 0.75...1.25) * 1000))
    }

    private func bury(_ delivery: JobDelivery, error: String) async {
        do {
            try await queue.bury(delivery, error: error)
            counters.withLock { $0.buried += 1 }
            logger.warning(
                "job moved to the dead-letter stream",
                metadata: [
                    "tack.job.id": "\(delivery.job?.id ?? "?")", "tack.job.kind": "\(delivery.job?.kind ?? "?")",
                    "tack.job.queue": "\(delivery.queue)", "tack.error": "\(error)",
                ]
            )
        } catch {
            logger.warning("could not move a job to the dead-letter stream; it will be claimed back", metadata: ["tack.error": "\(error)"])
        }
    }

    // MARK: - Background duties

    /// Acknowledges finished jobs in batches until closed, then once more.
    private func flushAcknowledgements() async {
        for await _ in acks.signals {
            await flushOnce()
        }
        await flushOnce()
    }

    private func flushOnce() async {
        var attempts = 0
        while true {
            let batch = acks.take()
            if batch.isEmpty { return }
            do {
                try await queue.acknowledge(batch)
                attempts = 0
            } catch {
                acks.putBack(batch)
                attempts += 1
                if attempts == 1 { logger.warning("cannot acknowledge finished jobs; retrying", metadata: ["tack.error": "\(error)"]) }
                if attempts > 50 { return }  // Redis is gone: the jobs stay pending and run again elsewhere.
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Promotes due retries, extends claims of long jobs and forgets dead consumers, until stopped.
    private func maintain() async {
        let extendAfter = settings.visibilityTimeout / 3
        var lastCleanup = ContinuousClock.now
        while !stopping.withLock({ $0 }) && !Task.isCancelled {
            do {
                for name in queues { try await queue.promoteDueRetries(name) }
                let long = running.olderThan(extendAfter)
                if !long.isEmpty { try await queue.extendClaims(long, consumer: consumer) }
                if ContinuousClock.now - lastCleanup > .seconds(60) {
                    lastCleanup = .now
                    for name in queues { try await queue.removeIdleConsumers(name, idle: max(.seconds(3600), settings.visibilityTimeout * 10)) }
                }
            } catch {
                logger.debug("job queue upkeep failed; retrying", metadata: ["tack.error": "\(error)"])
            }
            try? await Task.sleep(for: min(.seconds(1), extendAfter))
        }
    }
}

/// Free job slots; the reader waits for at least one.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiter: CheckedContinuation<Void, Never>?
        var idleWaiter: CheckedContinuation<Void, Never>?
    }
    private let capacity: Int
    private let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(State(free: capacity))
    }

    /// Takes every free slot, waiting until there is one; 0 when cancelled.
    func acquireAvailable() async -> Int {
        while true {
            let taken = state.withLock { s -> Int in
                let n = s.free
                s.free = 0
                return n
            }
            if taken > 0 { return taken }
            if Task.isCancelled || Task.isShuttingDownGracefully { return 0 }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.free > 0 { return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Returns `count` slots.
    func release(_ count: Int) {
        guard count > 0 else { return }
        let (waiter, idle) = state.withLock { s -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
            s.free += count
            let w = s.waiter
            s.waiter = nil
            var i: CheckedContinuation<Void, Never>?
            if s.free == capacity {
                i = s.idleWaiter
                s.idleWaiter = nil
            }
            return (w, i)
        }
        waiter?.resume()
        idle?.resume()
    }

    /// Waits until every slot is free (no job running).
    func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.free == capacity { return true }
                s.idleWaiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// Finished jobs waiting for their acknowledgement.
final class PendingAcks: Sendable {
    private let entries = Mutex<[String: [String]]>([:])
    let signals: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func add(queue: String, entryID: String) {
        entries.withLock { $0[queue, default: []].append(entryID) }
        continuation.yield()
    }

    func take() -> [String: [String]] {
        entries.withLock { e in
            let batch = e
            e = [:]
            return batch
        }
    }

    func putBack(_ batch: [String: [String]]) {
        entries.withLock { e in for (queue, ids) in batch { e[queue, default: []] += ids } }
    }

    func close() { continuation.finish() }
}

/// Jobs running now, with their start times, for claim extension.
final class RunningJobs: Sendable {
    private let started = Mutex<[String: (queue: String, at: ContinuousClock.Instant)]>([:])

    func start(_ delivery: JobDelivery) {
        started.withLock { $0[delivery.entryID] = (delivery.queue, .now) }
    }

    func finish(_ delivery: JobDelivery) {
        _ = started.withLock { $0.removeValue(forKey: delivery.entryID) }
    }

    /// Entry ids per queue of jobs running longer than `age`.
    func olderThan(_ age: Duration) -> [String: [String]] {
        let now = ContinuousClock.now
        return started.withLock { s in
            var result: [String: [String]] = [:]
            for (entryID, info) in s where now - info.at > age { result[info.queue, default: []].append(entryID) }
            return result
        }
    }
}
