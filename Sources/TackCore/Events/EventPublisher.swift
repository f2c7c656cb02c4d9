import Foundation
import Logging
import TackRedis

/// Publishes committed board events to Redis: appends each to the board's capped history stream
/// (id `version-0`) and PUBLISHes it, in one script, then marks it published in PostgreSQL
/// (batched with concurrent publishers' marks).
///
/// Best effort by design: when Redis is down the events stay `published_at IS NULL` and the relay
/// publishes them later. Publishing twice is harmless: the script skips a version the stream
/// already holds.
public struct EventPublisher: Sendable {
    /// Appends and publishes a run of consecutive versions of one board (ARGV: channel, history
    /// size, whether the first must follow the stream's last, then version, event id and JSON per
    /// event), only in version order: versions the stream already holds are skipped (published
    /// before). Returns how many were added, or -(last version + 1) when earlier versions are
    /// missing: the caller publishes those first. Writers of one board commit in version order (row
    /// lock), so when version v is committed every earlier one is too.
    ///
    /// A version the stream holds under another event id means PostgreSQL lost commits the stream
    /// still has (an asynchronous failover, a restore): the stream is dropped and rebuilt from the
    /// log, so the new event is not swallowed as "already there". Entries carry the id as `u`.
    static let script = RedisScript(
        """
        local lastVersion = 0
        local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
        if last[1] then lastVersion = tonumber(string.match(last[1][1], '^(%d+)')) end
        for i = 4, #ARGV, 3 do
            if tonumber(ARGV[i]) > lastVersion then break end
            local held = redis.call('XRANGE', KEYS[1], ARGV[i] .. '-0', ARGV[i] .. '-0')
            if held[1] then
                local uid = nil
                for j = 1, #held[1][2], 2 do
                    if held[1][2][j] == 'u' then uid = held[1][2][j + 1] end
                end
                if uid ~= ARGV[i + 1] then
                    redis.call('DEL', KEYS[1])
                    lastVersion = 0
                    break
                end
            end
        end
        if tonumber(ARGV[4]) > lastVersion + 1 and tonumber(ARGV[3]) == 1 then return -(lastVersion + 1) end
        local added = 0
        for i = 4, #ARGV, 3 do
            local version = tonumber(ARGV[i])
            if version > lastVersion then
                redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[i] .. '-0', 'e', ARGV[i + 2], 'u', ARGV[i + 1])
                redis.call('PUBLISH', ARGV[1], ARGV[i + 2])
                lastVersion = version
                added = added + 1
            end
        end
        return added
        """
    )

    let redis: RedisClient
    let log: EventLog
    /// Marks from concurrent publishers go to PostgreSQL together, in one `UPDATE`.
    let marks = GroupCommit<Int, [BoardEvent], Void>(limit: 64)
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
        for run in Self.runs(events) {
            do {
                try await publish(run, into: &done)
            } catch {
                logger.debug(
                    "event not published; the relay will",
                    metadata: ["tack.board.id": "\(run[run.startIndex].boardID)", "tack.error": "\(error)"]
                )
                break
            }
        }
        if !done.isEmpty {
            let (log, logger) = (self.log, self.logger)
            _ = await marks.run(done, key: 0) { batches in
                do {
                    try await log.markPublished(batches.flatMap { $0 })
                } catch {
                    logger.debug("could not mark events published; the relay will re-publish them harmlessly", metadata: ["tack.error": "\(error)"])
                }
                return batches.map { _ in () }
            }
        }
        return done
    }

    /// `events` cut where the board changes or the versions stop being consecutive: one script call each.
    static func runs(_ events: [BoardEvent]) -> [ArraySlice<BoardEvent>] {
        var runs: [ArraySlice<BoardEvent>] = []
        var start = events.startIndex
        for i in events.indices.dropFirst() where events[i].boardID != events[i - 1].boardID || events[i].version != events[i - 1].version + 1 {
            runs.append(events[start..<i])
            start = i
        }
        if start < events.endIndex { runs.append(events[start...]) }
        return runs
    }

    private func publish(_ run: ArraySlice<BoardEvent>, into done: inout [BoardEvent]) async throws {
        let reply = try await append(run, requireContiguous: true)
        guard reply < 0, let board = run.first?.boardID, let version = run.last?.version else {
            // Added now, or the stream already had them: either way they reached Redis.
            done += run
            return
        }
        // Earlier versions are not in the stream yet (their writer has not published them, or
        // Redis lost the stream): publish them from the log with this run, at most one history's worth.
        let last = Int64(-reply - 1)
        let from = max(last, version - 1 - Int64(historySize))
        let missing = try await log.events(boardID: board, after: from, limit: Int(version - from)).filter { $0.version <= version }
        // The first one after a lost or trimmed stream cannot follow the stream's last: append it anyway.
        if !missing.isEmpty, try await append(missing[...], requireContiguous: from == last) >= 0 {
            done += missing
        }
    }

    private func append(_ run: ArraySlice<BoardEvent>, requireContiguous: Bool) async throws -> Int {
        guard let board = run.first?.boardID else { return 0 }
        var args: [any RedisArgumentConvertible] = [RedisKeys.boardChannel(board), historySize, requireContiguous ? 1 : 0]
        args.reserveCapacity(3 + 3 * run.count)
        for event in run { args += [event.version, event.idString, event.json] }
        return try await redis.evaluate(Self.script, keys: [RedisKeys.boardHistory(board)], args: args).int ?? 0
    }
}
