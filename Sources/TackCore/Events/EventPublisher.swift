import Foundation
import Logging
import TackRedis

/// Publishes committed board events to Redis: appends each to the board's capped history stream
/// (id `version-0`) and PUBLISHes it, in one script, then marks it published in PostgreSQL.
///
/// Best effort by design: when Redis is down the events stay `published_at IS NULL` and the relay
/// publishes them later. Publishing twice is harmless: the script skips a version the stream
/// already holds.
public struct EventPublisher: Sendable {
    /// Appends and publishes one event only in version order. Returns 1 when added, 0 when the
    /// stream already holds it (published before: nothing to do), or -(last version) when earlier
    /// versions are missing: the caller publishes those first. Writers of one board commit in
    /// version order (row lock), so when version v is committed every earlier one is too.
    static let script = RedisScript("""
        local version = tonumber(ARGV[1])
        local lastVersion = 0
        local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
        if last[1] then lastVersion = tonumber(string.match(last[1][1], '^(%d+)')) end
        if version <= lastVersion then return 0 end
        if version > lastVersion + 1 and tonumber(ARGV[5]) == 1 then return -lastVersion end
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], ARGV[1] .. '-0', 'e', ARGV[2])
        redis.call('PUBLISH', ARGV[3], ARGV[2])
        return 1
        """)

    let redis: RedisClient
    let log: EventLog
    let historySize: Int
    let logger: Logger

    /// Creates a publisher.
    public init(redis: RedisClient, log: EventLog, historySize: Int, logger: Logger) {
        self.redis = redis
        self.log = log
        self.historySize = historySize
        self.logger = logger
    }

    /// Publishes and marks; returns the events that reached Redis (earlier versions fetched to
    /// fill a gap included). Never throws: what fails is left for the relay and logged at debug.
    @discardableResult
    public func publish(_ events: [BoardEvent]) async -> [BoardEvent] {
        var done: [BoardEvent] = []
        for event in events {
            do {
                try await publish(event, into: &done)
            } catch {
                logger.debug("event not published; the relay will", metadata: ["tack.board.id": "\(event.boardID)", "tack.error": "\(error)"])
                break
            }
        }
        do {
            try await log.markPublished(done)
        } catch {
            logger.debug("could not mark events published; the relay will re-publish them harmlessly", metadata: ["tack.error": "\(error)"])
        }
        return done
    }

    private func publish(_ event: BoardEvent, into done: inout [BoardEvent]) async throws {
        let reply = try await append(event, requireContiguous: true)
        guard reply < 0 else {
            // 1: added now; 0: the stream already had it. Either way it reached Redis.
            done.append(event)
            return
        }
        // Earlier versions are not in the stream yet (their writer has not published them, or
        // Redis lost the stream): publish them from the log first, at most one history's worth.
        let last = Int64(-reply)
        let from = max(last, event.version - 1 - Int64(historySize))
        let missing = try await log.events(boardID: event.boardID, after: from, limit: Int(event.version - from))
        for earlier in missing where earlier.version <= event.version {
            // The first one after a lost or trimmed stream cannot be contiguous: append it anyway.
            if try await append(earlier, requireContiguous: earlier.version != from + 1 || from == last) >= 0 {
                done.append(earlier)
            }
        }
    }

    private func append(_ event: BoardEvent, requireContiguous: Bool) async throws -> Int {
        let reply = try await redis.run(Self.script, keys: [RedisKeys.boardHistory(event.boardID)],
                                        args: [event.version, event.json, RedisKeys.boardChannel(event.boardID), historySize, requireContiguous ? 1 : 0])
        return reply.int ?? 0
    }
}
