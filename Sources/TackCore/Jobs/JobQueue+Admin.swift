import Foundation
import TackRedis

/// What `./platform jobs` shows per queue.
public struct QueueStats: Sendable, Codable, Equatable {
    /// Queue name.
    public var queue: String
    /// Jobs waiting to be read.
    public var waiting: Int
    /// Jobs read by a worker and not yet finished.
    public var inFlight: Int
    /// Workers reading the queue (consumers of its group).
    public var consumers: Int
    /// Age in seconds of the oldest job in the stream, if any.
    public var oldestAgeSeconds: Double?
    /// Failed jobs waiting for their next attempt.
    public var retries: Int
    /// Jobs in the dead-letter stream.
    public var dead: Int
}

/// A job in a dead-letter stream.
public struct DeadJob: Sendable, Codable, Equatable {
    /// Queue it died in.
    public var queue: String
    /// Entry id in the dead-letter stream.
    public var entryID: String
    /// The job's id.
    public var id: String
    /// Its kind.
    public var kind: String
    /// Attempts made.
    public var attempts: Int
    /// The last error.
    public var error: String
    /// When it died (milliseconds since 1970).
    public var failedAt: Int64
}

/// Operator operations: statistics, dead letters.
extension JobQueue {
    /// Puts a dead job back at the end of its queue as a first attempt, atomically.
    static let resurrectScript = RedisScript(
        """
        local entries = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
        if #entries == 0 then return 0 end
        local fields = entries[1][2]
        local out = {}
        for i = 1, #fields, 2 do
            local key = fields[i]
            if key == 'attempt' then
                table.insert(out, key); table.insert(out, '1')
            elseif key ~= 'failed_at' and key ~= 'deliveries' then
                table.insert(out, key); table.insert(out, fields[i + 1])
            end
        end
        redis.call('XADD', KEYS[2], '*', unpack(out))
        redis.call('XDEL', KEYS[1], ARGV[1])
        return 1
        """
    )

    /// Statistics of every queue, in one pipeline.
    public func stats() async throws -> [QueueStats] {
        let names = queueNames
        var commands: [[any RedisArgumentConvertible]] = []
        for queue in names {
            let key = RedisKeys.queue(queue)
            commands.append(["XLEN", key])
            commands.append(["XINFO", "GROUPS", key])
            commands.append(["XRANGE", key, "-", "+", "COUNT", 1])
            commands.append(["ZCARD", RedisKeys.queueRetries(queue)])
            commands.append(["XLEN", RedisKeys.queueDead(queue)])
        }
        let replies = try await redis.pipeline(commands)
        let now = Self.nowMilliseconds()
        return names.enumerated().map { index, queue in
            let r = Array(replies[index * 5..<index * 5 + 5])
            var inFlight = 0
            var consumers = 0
            for group in r[1].array ?? [] {
                let info = Self.pairs(group)
                if info["name"]?.string == RedisKeys.workerGroup {
                    inFlight = info["pending"]?.int ?? 0
                    consumers = info["consumers"]?.int ?? 0
                }
            }
            var oldest: Double?
            if let first = r[2].array?.first?.array?.first?.string, let milliseconds = Int64(first.split(separator: "-")[0]) {
                oldest = Double(max(0, now - milliseconds)) / 1000
            }
            let length = r[0].int ?? 0
            return QueueStats(
                queue: queue,
                waiting: max(0, length - inFlight),
                inFlight: inFlight,
                consumers: consumers,
                oldestAgeSeconds: oldest,
                retries: r[3].int ?? 0,
                dead: r[4].int ?? 0
            )
        }
    }

    /// Dead jobs, newest first, at most `limit` per queue.
    public func deadJobs(queue: String? = nil, limit: Int = 100) async throws -> [DeadJob] {
        var result: [DeadJob] = []
        for name in queueNames where queue == nil || queue == name {
            let reply = try await redis.sendChecked("XREVRANGE", RedisKeys.queueDead(name), "+", "-", "COUNT", limit)
            for entry in reply.array ?? [] {
                guard let parts = entry.array, parts.count == 2, let entryID = parts[0].string else { continue }
                let fields = Self.fieldMap(parts[1])
                result.append(
                    DeadJob(
                        queue: name,
                        entryID: entryID,
                        id: fields["id"] ?? "?",
                        kind: fields["kind"] ?? "?",
                        attempts: fields["attempt"].flatMap(Int.init) ?? 0,
                        error: fields["error"] ?? "",
                        failedAt: fields["failed_at"].flatMap(Int64.init) ?? 0
                    )
                )
            }
        }
        return result
    }

    /// Re-enqueues the dead job with this job id (first attempt again); returns false when no dead job has it.
    public func retryDead(jobID: String) async throws -> Bool {
        for name in queueNames {
            for entryID in try await deadEntries(queue: name, matching: jobID) {
                let moved = try await redis.evaluate(Self.resurrectScript, keys: [RedisKeys.queueDead(name), RedisKeys.queue(name)], args: [entryID])
                if moved.int == 1 { return true }
            }
        }
        return false
    }

    /// Re-enqueues every dead job; returns how many.
    public func retryAllDead() async throws -> Int {
        var count = 0
        for name in queueNames {
            for entryID in try await deadEntries(queue: name, matching: nil) {
                let moved = try await redis.evaluate(Self.resurrectScript, keys: [RedisKeys.queueDead(name), RedisKeys.queue(name)], args: [entryID])
                count += moved.int ?? 0
            }
        }
        return count
    }

    /// Deletes every dead job; returns how many were deleted.
    public func purgeDead() async throws -> Int {
        var count = 0
        for name in queueNames {
            let key = RedisKeys.queueDead(name)
            let replies = try await redis.pipeline([["XLEN", key], ["DEL", key]])
            count += replies[0].int ?? 0
        }
        return count
    }

    /// Entry ids of a dead-letter stream, optionally only those of one job id, oldest first.
    private func deadEntries(queue: String, matching jobID: String?) async throws -> [String] {
        var result: [String] = []
        var start = "-"
        while true {
            let reply = try await redis.sendChecked("XRANGE", RedisKeys.queueDead(queue), start, "+", "COUNT", 500)
            let entries = reply.array ?? []
            for entry in entries {
                guard let parts = entry.array, parts.count == 2, let entryID = parts[0].string else { continue }
                if jobID == nil || Self.fieldMap(parts[1])["id"] == jobID { result.append(entryID) }
                start = "(" + entryID
            }
            if entries.count < 500 { return result }
        }
    }
}
