import Foundation
import TackRedis

/// One job handed to a worker: where it came from and the job itself.
public struct JobDelivery: Sendable {
    /// The queue it was read from.
    public let queue: String
    /// The stream entry id (acknowledgement handle).
    public let entryID: String
    /// The job, or nil when the entry is malformed (it is buried with an error).
    public let job: Job?
    /// How many times the entry has been handed out (1 for a first delivery).
    public var deliveries: Int
}

/// Worker-side operations: read, acknowledge, retry, bury, promote due retries, reclaim and extend.
extension JobQueue {
    /// Moves one failed job to the retry set and removes it from the stream, atomically. Returns 0
    /// and does nothing when the entry was already acknowledged (another worker finished it).
    static let retryScript = RedisScript(
        """
        if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('XDEL', KEYS[1], ARGV[2])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
        return 1
        """
    )

    /// Moves one job to the dead-letter stream and removes it from the stream, atomically.
    static let buryScript = RedisScript(
        """
        if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('XDEL', KEYS[1], ARGV[2])
        redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
        return 1
        """
    )

    /// Moves retries that are due back into the stream, oldest first, atomically per job.
    static let promoteScript = RedisScript(
        """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
        for _, member in ipairs(due) do
            redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(member)))
            redis.call('ZREM', KEYS[1], member)
        end
        return #due
        """
    )

    /// Creates the consumer group of each queue (and its stream) if missing. The group starts at
    /// the beginning of the stream, so jobs enqueued before any worker ran are consumed.
    public func ensureGroups(_ queues: [String]) async throws {
        for queue in queues {
            let reply = try await redis.send("XGROUP", "CREATE", RedisKeys.queue(queue), RedisKeys.workerGroup, "0", "MKSTREAM")
            if let message = reply.errorMessage, !message.hasPrefix("BUSYGROUP") {
                throw RedisError(.replyError, "XGROUP CREATE \(RedisKeys.queue(queue)) failed: \(message)")
            }
        }
    }

    /// Reads up to `count` new jobs from `queues` as `consumer`, waiting at most `block` for the
    /// first. Runs on a dedicated connection because it blocks.
    public func read(
        on connection: RedisBlockingConnection,
        queues: [String],
        consumer: String,
        count: Int,
        block: Duration
    ) async throws -> [JobDelivery] {
        var command: [any RedisArgumentConvertible] = [
            "XREADGROUP", "GROUP", RedisKeys.workerGroup, consumer, "COUNT", count,
            "BLOCK", block.wholeMilliseconds, "STREAMS",
        ]
        command += queues.map { RedisKeys.queue($0) }
        command += queues.map { _ in ">" }
        let reply = try await connection.send(command, timeout: block + .seconds(10))
        if let message = reply.errorMessage {
            if message.hasPrefix("NOGROUP") {
                // The stream or group vanished (Redis restarted without persistence, FLUSHALL): recreate.
                try await ensureGroups(queues)
                return []
            }
            throw RedisError(.replyError, "XREADGROUP failed: \(message)")
        }
        var keyToQueue: [String: String] = [:]
        for queue in queues { keyToQueue[RedisKeys.queue(queue)] = queue }
        var result: [JobDelivery] = []
        for stream in reply.array ?? [] {
            guard let parts = stream.array, parts.count == 2, let key = parts[0].string, let queue = keyToQueue[key] else { continue }
            result += Self.deliveries(parts[1], queue: queue)
        }
        return result
    }

    /// Acknowledges finished jobs and deletes their entries, one pipeline per call.
    public func acknowledge(_ entries: [String: [String]]) async throws {
        var commands: [[any RedisArgumentConvertible]] = []
        for (queue, ids) in entries where !ids.isEmpty {
            let key = RedisKeys.queue(queue)
            commands.append(["XACK", key, RedisKeys.workerGroup] + ids)
            commands.append(["XDEL", key] + ids)
        }
        for reply in try await redis.pipeline(commands) {
            if let message = reply.errorMessage { throw RedisError(.replyError, "XACK/XDEL failed: \(message)") }
        }
    }

    /// Schedules the next attempt of a failed job at `due` and removes the current entry.
    public func scheduleRetry(_ delivery: JobDelivery, job: Job, error: String, due: Date) async throws {
        let next = Job(
            id: job.id,
            kind: job.kind,
            payload: job.payload,
            attempt: job.attempt + 1,
            enqueuedAt: job.enqueuedAt,
            lastError: Self.clip(error)
        )
        let member = String(decoding: try JSONEncoder().encode(next.streamFields), as: UTF8.self)
        let dueMilliseconds = Int64((due.timeIntervalSince1970 * 1000).rounded())
        _ = try await redis.evaluate(
            Self.retryScript,
            keys: [RedisKeys.queue(delivery.queue), RedisKeys.queueRetries(delivery.queue)],
            args: [RedisKeys.workerGroup, delivery.entryID, dueMilliseconds, member]
        )
    }

    /// Moves a job to the dead-letter stream with its last error, removing its entry.
    public func bury(_ delivery: JobDelivery, error: String) async throws {
        var fields = delivery.job?.streamFields ?? ["id", "unknown", "kind", "unknown", "attempt", "0", "enqueued", "0", "payload", "{}"]
        // The job's own `error` (from a previous attempt) is replaced by the final one.
        if let index = stride(from: 0, to: fields.count - 1, by: 2).first(where: { fields[$0] == "error" }) {
            fields.removeSubrange(index...index + 1)
        }
        fields += ["error", Self.clip(error), "failed_at", String(Self.nowMilliseconds()), "deliveries", String(delivery.deliveries)]
        _ = try await redis.evaluate(
            Self.buryScript,
            keys: [RedisKeys.queue(delivery.queue), RedisKeys.queueDead(delivery.queue)],
            args: [RedisKeys.workerGroup, delivery.entryID] + fields
        )
    }

    /// Moves due retries of `queue` back into its stream; returns how many.
    @discardableResult
    public func promoteDueRetries(_ queue: String, limit: Int = 1000) async throws -> Int {
        let reply = try await redis.evaluate(
            Self.promoteScript,
            keys: [RedisKeys.queueRetries(queue), RedisKeys.queue(queue)],
            args: [Self.nowMilliseconds(), limit]
        )
        return reply.int ?? 0
    }

    /// Claims up to `count` jobs of `queue` that have been in flight longer than `minIdle` (their
    /// worker died or stalled) for `consumer`, with each entry's delivery count.
    public func reclaim(_ queue: String, consumer: String, minIdle: Duration, count: Int) async throws -> [JobDelivery] {
        let key = RedisKeys.queue(queue)
        let reply = try await redis.send("XAUTOCLAIM", key, RedisKeys.workerGroup, consumer, minIdle.wholeMilliseconds, "0-0", "COUNT", count)
        if let message = reply.errorMessage {
            if message.hasPrefix("NOGROUP") { return [] }
            throw RedisError(.replyError, "XAUTOCLAIM failed: \(message)")
        }
        guard let parts = reply.array, parts.count >= 2 else { return [] }
        var claimed = Self.deliveries(parts[1], queue: queue)
        if claimed.isEmpty { return [] }
        let counts = try await redis.pipeline(claimed.map { ["XPENDING", key, RedisKeys.workerGroup, $0.entryID, $0.entryID, 1] })
        for index in claimed.indices {
            if let row = counts[index].array?.first?.array, row.count == 4, let deliveries = row[3].int {
                claimed[index].deliveries = deliveries
            }
        }
        return claimed
    }

    /// Resets the idle time of jobs still running on `consumer`, so no other worker reclaims them.
    public func extendClaims(_ entries: [String: [String]], consumer: String) async throws {
        var commands: [[any RedisArgumentConvertible]] = []
        for (queue, ids) in entries where !ids.isEmpty {
            commands.append(["XCLAIM", RedisKeys.queue(queue), RedisKeys.workerGroup, consumer, 0] + ids + ["JUSTID"])
        }
        for reply in try await redis.pipeline(commands) {
            if let message = reply.errorMessage { throw RedisError(.replyError, "XCLAIM failed: \(message)") }
        }
    }

    /// Removes consumers of `queue` that hold no jobs and have not read for `idle` (workers that
    /// stopped or died), so `./platform jobs` counts live consumers.
    public func removeIdleConsumers(_ queue: String, idle: Duration) async throws {
        let key = RedisKeys.queue(queue)
        let reply = try await redis.send("XINFO", "CONSUMERS", key, RedisKeys.workerGroup)
        guard reply.errorMessage == nil else { return }
        for consumer in reply.array ?? [] {
            let info = Self.pairs(consumer)
            guard let name = info["name"]?.string, info["pending"]?.int == 0,
                let idleMilliseconds = info["idle"]?.int, idleMilliseconds > idle.wholeMilliseconds
            else { continue }
            _ = try await redis.send("XGROUP", "DELCONSUMER", key, RedisKeys.workerGroup, name)
        }
    }

    // MARK: - Parsing

    static func deliveries(_ entries: RESPValue, queue: String) -> [JobDelivery] {
        var result: [JobDelivery] = []
        for entry in entries.array ?? [] {
            guard let parts = entry.array, parts.count == 2, let entryID = parts[0].string else { continue }
            // A deleted entry still pending shows with null fields; it is acknowledged as malformed.
            let fields = fieldMap(parts[1])
            result.append(JobDelivery(queue: queue, entryID: entryID, job: Job(fields: fields), deliveries: 1))
        }
        return result
    }

    static func fieldMap(_ value: RESPValue) -> [String: String] {
        let items = value.array ?? []
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < items.count {
            if let key = items[index].string, let field = items[index + 1].string { fields[key] = field }
            index += 2
        }
        return fields
    }

    static func pairs(_ value: RESPValue) -> [String: RESPValue] {
        let items = value.array ?? []
        var result: [String: RESPValue] = [:]
        var index = 0
        while index + 1 < items.count {
            if let key = items[index].string { result[key] = items[index + 1] }
            index += 2
        }
        return result
    }

    /// Errors kept with a job are bounded.
    static func clip(_ error: String) -> String {
        error.count <= 2000 ? error : String(error.prefix(2000)) + "…"
    }
}
