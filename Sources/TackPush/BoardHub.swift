import CoreMetrics
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TackCore
import TackRedis

/// The process-wide side of fan-out: which boards have local listeners, the newest version
/// delivered in order for each, one Redis subscription for all of them, gap refills.
///
/// Per board it keeps `lastVersion`: every version up to it has been handed, in order, to the
/// event loops with subscribers of that board. A live event with the next version goes out at
/// once; one further ahead waits in `pending` while the missing versions are read back from the
/// board's history stream or PostgreSQL (once per board, whatever the number of clients). A
/// sweep compares `lastVersion` with PostgreSQL every `sweepInterval`, so an event whose
/// publication was lost (Redis restarted, pub/sub dropped it, the subscriber reconnected) still
/// arrives without a later event to reveal the gap.
///
/// A live event whose version was delivered before under another id, or a board whose version in
/// PostgreSQL is below `lastVersion`, means PostgreSQL lost commits (a failover, a restore): the
/// board rewinds to the version before the first one rewritten and its listeners get `resync`
/// (`history_rewritten`) before any new event.
final class BoardHub: Service, Sendable {
    /// Read back from the log in one go at most; a client further behind gets `resync`.
    static let maximumReplay: Int64 = 10_000
    /// How long a board without local listeners stays subscribed (a reload does not resubscribe).
    static let linger: Duration = .seconds(30)

    struct Board {
        var lastVersion: Int64 = 0
        var ready = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var pending: [Int64: PushEvent] = [:]
        var refilling = false
        /// The version PostgreSQL had when the sweep found this board behind.
        var refillTarget: Int64 = 0
        /// Listeners per event loop.
        var loops: [ObjectIdentifier: (hub: LoopHub, count: Int)] = [:]
        var listeners = 0
        var idleSince: ContinuousClock.Instant? = .now
        /// Users with the board open on this process, with how many connections each.
        var local: [Int64: (name: String, count: Int)] = [:]
        /// Presence entries this process wrote to Redis for the board.
        var presenceWritten: Set<String> = []
        /// The presence last sent to listeners, across every push process.
        var presence: [PresenceUser] = []
        /// The newest events delivered, consecutive and ending at `lastVersion`: clients resuming
        /// shortly behind (a reconnect storm after another process died) are served from here,
        /// not by one history read and parse each.
        var recent: [PushEvent] = []
    }

    /// Events kept per board in `Board.recent`.
    static let recentCapacity = 512

    enum Access: Sendable { case allowed, notFound }

    enum History: Sendable {
        case events([PushEvent])
        /// The log no longer holds every version asked for.
        case pruned
    }

    let postgres: PostgresClient
    let redis: RedisClient
    let events: EventLog
    let logger: Logger
    let metrics: PushMetrics
    let sweepInterval: Duration
    let boards = Mutex<[Int64: Board]>([:])
    /// Memberships confirmed in the last `membershipTTL` (a reconnect storm asks once per user and
    /// board); dropped at once by a `member.removed` event, and re-checked by the sweep anyway.
    private let memberships = Mutex<[MemberPair: ContinuousClock.Instant]>([:])
    static let membershipTTL: Duration = .seconds(10)
    private let sweeps = Atomic<Int>(0)
    let subscriber: RedisSubscriber
    private let refills: AsyncStream<Int64>
    private let refillRequests: AsyncStream<Int64>.Continuation
    private let presenceChanges: AsyncStream<Int64>
    private let presenceRequests: AsyncStream<Int64>.Continuation
    /// Identifies this process's presence entries.
    let presenceOwner = UUID().uuidString.prefix(12).lowercased()
    /// Presence entries expire unless refreshed (a killed process's users disappear by themselves).
    static let presenceTTL: Duration = .seconds(30)
    /// Every loop's hub, for sweeps that ask all connections.
    let loopHubs: [LoopHub]

    init(
        postgres: PostgresClient,
        redis: RedisClient,
        loopHubs: [LoopHub],
        metrics: PushMetrics,
        sweepInterval: Duration = .seconds(2),
        logger: Logger
    ) {
        self.postgres = postgres
        self.redis = redis
        self.events = EventLog(postgres: postgres, logger: logger)
        self.loopHubs = loopHubs
        self.metrics = metrics
        self.sweepInterval = sweepInterval
        self.logger = logger
        self.subscriber = redis.makeSubscriber(bufferLimit: 100_000)
        (refills, refillRequests) = AsyncStream.makeStream(of: Int64.self)
        (presenceChanges, presenceRequests) = AsyncStream.makeStream(of: Int64.self)
    }

    // MARK: - Running

    /// Dispatches Redis messages, runs refills and the sweep until shutdown.
    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.dispatchMessages() }
                group.addTask {
                    await withDiscardingTaskGroup { refillGroup in
                        for await board in self.refills { refillGroup.addTask { await self.refill(board) } }
                    }
                }
                group.addTask { await self.sweepLoop() }
                group.addTask {
                    for await board in self.presenceChanges { await self.writePresence(board) }
                }
            }
        } onGracefulShutdown: {
            self.refillRequests.finish()
            self.presenceRequests.finish()
            self.subscriber.close()
        }
        await removeOwnPresence()
    }

    private func dispatchMessages() async {
        for await message in subscriber.messages {
            guard message.channel.hasPrefix("tack:board:") else { continue }
            if let event = PushEvent(published: message.payload) {
                receive([event], live: true)
            } else if let board = Int64(message.channel.dropFirst("tack:board:".count)), message.payload.starts(with: Array(#"{"presence""#.utf8)) {
                await readPresence([board])
            }
        }
    }

    private func sweepLoop() async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: sweepInterval)
            } catch {
                return
            }
            await sweep()
        }
    }

    // MARK: - Subscribing

    /// Whether `userID` may follow `board`, and the board's Redis subscription confirmed.
    func prepare(board: Int64, userID: Int64) async throws -> Access {
        let pair = MemberPair(board: board, user: userID)
        let cached = memberships.withLock { $0[pair].map { $0.duration(to: .now) < Self.membershipTTL } ?? false }
        if !cached {
            let rows = try await postgres.boundedQuery(
                "SELECT 1 FROM board_members WHERE board_id = \(board) AND user_id = \(userID)",
                logger: logger
            )
            var member = false
            for try await _ in rows { member = true }
            guard member else { return .notFound }
            memberships.withLock { $0[pair] = .now }
        }
        try await ensureReady(board)
        return .allowed
    }

    private func forgetMemberships(_ pairs: some Sequence<MemberPair>) {
        memberships.withLock { cache in
            for pair in pairs { cache[pair] = nil }
        }
    }

    private func ensureReady(_ board: Int64) async throws {
        enum Step { case ready, wait, start }
        let step = boards.withLock { boards -> Step in
            if let entry = boards[board] { return entry.ready ? .ready : .wait }
            boards[board] = Board()
            return .start
        }
        switch step {
        case .ready:
            return
        case .wait:
            try await withCheckedThrowingContinuation { continuation in
                let waiting = boards.withLock { boards -> Bool in
                    guard var entry = boards[board] else { return false }
                    if entry.ready { return false }
                    entry.waiters.append(continuation)
                    boards[board] = entry
                    return true
                }
                if !waiting { continuation.resume() }
            }
        case .start:
            do {
                try await subscriber.subscribe([RedisKeys.boardChannel(board)])
                // Read after the subscription is confirmed: any later version arrives live.
                let version = try await currentVersion(board) ?? 0
                let recent = await recentHistory(board: board, through: version)
                let waiters = boards.withLock { boards -> [CheckedContinuation<Void, any Error>] in
                    guard var entry = boards[board] else { return [] }
                    entry.ready = true
                    if version >= entry.lastVersion {
                        entry.lastVersion = version
                        entry.recent = recent
                    }
                    entry.pending = entry.pending.filter { $0.key > entry.lastVersion }
                    let waiters = entry.waiters
                    entry.waiters = []
                    boards[board] = entry
                    return waiters
                }
                for waiter in waiters { waiter.resume() }
                receive([], live: false, board: board)
            } catch {
                let waiters = boards.withLock { boards in boards.removeValue(forKey: board)?.waiters ?? [] }
                for waiter in waiters { waiter.resume(throwing: error) }
                try? await subscriber.unsubscribe([RedisKeys.boardChannel(board)])
                throw error
            }
        }
    }

    /// The history stream's newest events up to `version`, consecutive and ending at it (empty
    /// when the stream does not hold `version`).
    private func recentHistory(board: Int64, through version: Int64) async -> [PushEvent] {
        guard version > 0 else { return [] }
        let from = max(1, version - Int64(Self.recentCapacity) + 1)
        guard let stored = await streamEvents(board: board, from: from, through: version) else { return [] }
        var events: [PushEvent] = []
        for event in stored {
            if let last = events.last, event.version != last.version + 1 { events = [] }
            events.append(event)
        }
        return events.last?.version == version ? events : []
    }

    /// Versions `from … through` as the board's history stream holds them (nil when Redis does not answer).
    private func streamEvents(board: Int64, from: Int64, through: Int64) async -> [PushEvent]? {
        guard let reply = try? await redis.send("XRANGE", RedisKeys.boardHistory(board), "\(from)-0", "\(through)-0"),
            let entries = reply.array
        else { return nil }
        return entries.compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let fields = parts[1].array, fields.count == 2,
                let bytes = fields[1].bytes
            else { return nil }
            return PushEvent(published: bytes)
        }
    }

    private func currentVersion(_ board: Int64) async throws -> Int64? {
        let rows = try await postgres.boundedQuery("SELECT version FROM boards WHERE id = \(board)", logger: logger)
        for try await version in rows.decode(Int64.self) { return version }
        return nil
    }

    /// Adds a listener on `loop` and returns the version from which it receives live events
    /// (every later one, in order); nil when the board is not ready (prepare again).
    /// Call on `loop`'s event loop, and add the connection to the loop's registry in the same step.
    func register(board: Int64, loop: LoopHub, user: Principal) -> (version: Int64, presence: [PresenceUser])? {
        var arrived = false
        let result = boards.withLock { boards -> (Int64, [PresenceUser])? in
            guard var entry = boards[board], entry.ready else { return nil }
            let key = ObjectIdentifier(loop)
            entry.loops[key, default: (loop, 0)].count += 1
            entry.listeners += 1
            entry.idleSince = nil
            entry.local[user.userID, default: (user.name, 0)].count += 1
            arrived = entry.local[user.userID]?.count == 1
            boards[board] = entry
            return (entry.lastVersion, entry.presence)
        }
        if arrived { presenceRequests.yield(board) }
        return result
    }

    /// Removes a listener registered on `loop`.
    func release(board: Int64, loop: LoopHub, userID: Int64) {
        let left = boards.withLock { boards -> Bool in
            guard var entry = boards[board] else { return false }
            let key = ObjectIdentifier(loop)
            if let current = entry.loops[key] {
                if current.count <= 1 { entry.loops[key] = nil } else { entry.loops[key] = (current.hub, current.count - 1) }
                entry.listeners -= 1
            }
            if entry.listeners <= 0 { entry.idleSince = .now }
            var left = false
            if let present = entry.local[userID] {
                if present.count <= 1 {
                    entry.local[userID] = nil
                    left = true
                } else {
                    entry.local[userID] = (present.name, present.count - 1)
                }
            }
            boards[board] = entry
            return left
        }
        if left { presenceRequests.yield(board) }
    }

    // MARK: - Presence

    /// Writes this process's presence entries for `board` to Redis (a sorted set scored by
    /// expiry, one member per process and user) and tells every push process to re-read it.
    private func writePresence(_ board: Int64, refresh: Bool = false) async {
        guard
            let (wanted, written) = boards.withLock({ boards -> (Set<String>, Set<String>)? in
                guard let entry = boards[board] else { return nil }
                return (Set(entry.local.map { "\(presenceOwner)|\($0.key)|\($0.value.name)" }), entry.presenceWritten)
            })
        else { return }
        let expiry = Int(Date().timeIntervalSince1970 * 1000) + Self.presenceTTL.wholeMilliseconds
        let key = RedisKeys.boardPresence(board)
        var commands: [[any RedisArgumentConvertible]] = []
        let added = refresh ? wanted : wanted.subtracting(written)
        if !added.isEmpty { commands.append(["ZADD", key] + added.flatMap { [expiry, $0] as [any RedisArgumentConvertible] }) }
        let removed = written.subtracting(wanted)
        if !removed.isEmpty { commands.append(["ZREM", key] + removed.map { $0 as any RedisArgumentConvertible }) }
        guard !commands.isEmpty else { return }
        commands.append(["PEXPIRE", key, Self.presenceTTL.wholeMilliseconds * 2])
        if !refresh { commands.append(["PUBLISH", RedisKeys.boardChannel(board), "{\"presence\":\(board)}"]) }
        do {
            _ = try await redis.pipeline(commands)
            boards.withLock { boards in boards[board]?.presenceWritten = wanted }
        } catch {
            logger.debug("could not write presence", metadata: ["tack.board.id": "\(board)", "tack.error": "\(error)"])
        }
    }

    /// Reads who has each board open, across processes, and tells local listeners when it changed.
    private func readPresence(_ ids: [Int64]) async {
        guard !ids.isEmpty else { return }
        let now = Int(Date().timeIntervalSince1970 * 1000)
        guard let replies = try? await redis.pipeline(ids.map { ["ZRANGEBYSCORE", RedisKeys.boardPresence($0), now, "+inf"] }) else { return }
        for (board, reply) in zip(ids, replies) {
            var users: [Int64: String] = [:]
            for member in reply.array?.compactMap(\.string) ?? [] {
                let parts = member.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
                if parts.count == 3, let id = Int64(parts[1]) { users[id] = String(parts[2]) }
            }
            let presence = users.map { PresenceUser(id: $0.key, name: $0.value) }.sorted { $0.id < $1.id }
            let loops = boards.withLock { boards -> [LoopHub] in
                guard var entry = boards[board], entry.presence != presence else { return [] }
                entry.presence = presence
                boards[board] = entry
                return entry.loops.values.map(\.hub)
            }
            guard !loops.isEmpty else { continue }
            let message = ServerMessage.presence(board: board, users: presence.map { ($0.id, $0.name) })
            for loop in loops { loop.eventLoop.execute { loop.presence(board: board, message: message) } }
        }
    }

    /// Leaves presence at shutdown (the entries would otherwise linger until they expire).
    private func removeOwnPresence() async {
        let written = boards.withLock { boards in boards.compactMap { ($0.key, $0.value.presenceWritten) }.filter { !$0.1.isEmpty } }
        guard !written.isEmpty else { return }
        var commands: [[any RedisArgumentConvertible]] = []
        for (board, members) in written {
            commands.append(["ZREM", RedisKeys.boardPresence(board)] + members.map { $0 as any RedisArgumentConvertible })
            commands.append(["PUBLISH", RedisKeys.boardChannel(board), "{\"presence\":\(board)}"])
        }
        _ = try? await redis.pipeline(commands)
    }

    // MARK: - Events

    /// Takes events of one board (live from Redis, or read back by a refill) and hands every
    /// version that now follows `lastVersion` to the loops, in order.
    func receive(_ incoming: [PushEvent], live: Bool, board explicitBoard: Int64? = nil) {
        guard let board = explicitBoard ?? incoming.first?.board else { return }
        var needsRefill = false
        var rewound: Int64?
        let (out, loops) = boards.withLock { boards -> ([PushEvent], [LoopHub]) in
            guard var entry = boards[board] else { return ([], []) }
            if live, entry.ready, let reused = incoming.first(where: { Self.rewrites($0, entry.recent) }) {
                Self.rewind(&entry, to: reused.version - 1)
                rewound = entry.lastVersion
            }
            for event in incoming where event.version > entry.lastVersion { entry.pending[event.version] = event }
            guard entry.ready else {
                boards[board] = entry
                return ([], [])
            }
            var out: [PushEvent] = []
            while let next = entry.pending.removeValue(forKey: entry.lastVersion + 1) {
                out.append(next)
                entry.lastVersion = next.version
            }
            if !out.isEmpty {
                if entry.recent.last.map({ $0.version + 1 != out[0].version }) ?? false { entry.recent = [] }
                entry.recent += out
                if entry.recent.count > Self.recentCapacity { entry.recent.removeFirst(entry.recent.count - Self.recentCapacity) }
            }
            if !entry.pending.isEmpty && !entry.refilling {
                entry.refilling = true
                needsRefill = true
            }
            boards[board] = entry
            return (out, entry.loops.values.map(\.hub))
        }
        if needsRefill { refillRequests.yield(board) }
        if let rewound {
            logger.warning(
                "board history rewritten: PostgreSQL lost events this process delivered; its listeners resync",
                metadata: ["tack.board.id": "\(board)", "tack.board.version": "\(rewound)"]
            )
            metrics.resyncs.increment()
            for loop in loops { loop.handOver(.resync(board: board, version: rewound, reason: .rewritten)) }
        }
        guard !out.isEmpty else { return }
        let removed = out.compactMap { $0.removedUser.map { MemberPair(board: board, user: $0) } }
        if !removed.isEmpty { forgetMemberships(removed) }
        for loop in loops { loop.handOver(.events(out)) }
    }

    /// Whether `event` has a version `recent` holds under another id.
    static func rewrites(_ event: PushEvent, _ recent: [PushEvent]) -> Bool {
        guard let first = recent.first, event.version >= first.version, event.version <= first.version + Int64(recent.count) - 1 else { return false }
        return recent[Int(event.version - first.version)].id != event.id
    }

    /// Forgets what the board had after `version` (delivered or waiting): it is a lost history.
    static func rewind(_ entry: inout Board, to version: Int64) {
        entry.lastVersion = version
        entry.recent.removeAll { $0.version > version }
        entry.pending = [:]
        entry.refillTarget = min(entry.refillTarget, version)
    }

    /// PostgreSQL has `version` for a board delivered further: rewinds it and tells its listeners.
    private func rewound(_ board: Int64, to version: Int64) {
        let loops = boards.withLock { boards -> [LoopHub] in
            guard var entry = boards[board], entry.ready, entry.lastVersion > version else { return [] }
            Self.rewind(&entry, to: version)
            boards[board] = entry
            return entry.loops.values.map(\.hub)
        }
        guard !loops.isEmpty else { return }
        logger.warning(
            "board history rewritten: PostgreSQL has fewer events than this process delivered; its listeners resync",
            metadata: ["tack.board.id": "\(board)", "tack.board.version": "\(version)"]
        )
        metrics.resyncs.increment()
        for loop in loops { loop.handOver(.resync(board: board, version: version, reason: .rewritten)) }
    }

    /// Reads back the versions missing between `lastVersion` and the oldest pending (or the
    /// version PostgreSQL has), then delivers; when the log no longer holds them, every listener
    /// of the board is told to resync.
    private func refill(_ board: Int64) async {
        guard
            let (from, target) = boards.withLock({ boards -> (Int64, Int64)? in
                guard let entry = boards[board] else { return nil }
                let target = entry.pending.keys.min().map { $0 - 1 } ?? max(entry.refillTarget, entry.lastVersion)
                return (entry.lastVersion, target)
            })
        else { return }
        metrics.gapRefills.increment()
        let result: History
        do {
            result = try await history(board: board, after: from, through: target)
        } catch {
            logger.warning("could not refill a gap; the sweep will try again", metadata: ["tack.board.id": "\(board)", "tack.error": "\(error)"])
            boards.withLock { boards in boards[board]?.refilling = false }
            return
        }
        switch result {
        case .events(let found):
            boards.withLock { boards in boards[board]?.refilling = false }
            receive(found, live: false, board: board)
        case .pruned:
            metrics.resyncs.increment()
            let loops = boards.withLock { boards -> [LoopHub] in
                guard var entry = boards[board] else { return [] }
                entry.lastVersion = max(entry.lastVersion, target)
                entry.recent = []
                entry.refilling = false
                boards[board] = entry
                return entry.loops.values.map(\.hub)
            }
            for loop in loops { loop.handOver(.resync(board: board, version: target, reason: .pruned)) }
            receive([], live: false, board: board)
        }
    }

    /// Events `after+1 … through` of a board: from the Redis history stream when it holds them
    /// all, else from PostgreSQL's event log; `.pruned` when neither does.
    func history(board: Int64, after: Int64, through: Int64) async throws -> History {
        guard through > after else { return .events([]) }
        guard through - after <= Self.maximumReplay else { return .pruned }
        let held = boards.withLock { boards -> [PushEvent]? in
            guard let recent = boards[board]?.recent, let first = recent.first, let last = recent.last,
                first.version <= after + 1, last.version >= through
            else { return nil }
            return Array(recent[Int(after + 1 - first.version)...Int(through - first.version)])
        }
        if let held { return .events(held) }
        let wanted = Int(through - after)
        if let found = await streamEvents(board: board, from: after + 1, through: through), Self.isComplete(found, after: after, count: wanted) {
            return .events(found)
        }
        let logged = try await events.events(boardID: board, after: after, limit: wanted).filter { $0.version <= through }.map(PushEvent.init)
        return Self.isComplete(logged, after: after, count: wanted) ? .events(logged) : .pruned
    }

    static func isComplete(_ events: [PushEvent], after: Int64, count: Int) -> Bool {
        guard events.count == count else { return false }
        for (i, event) in events.enumerated() where event.version != after + 1 + Int64(i) { return false }
        return true
    }

    // MARK: - Sweep

    /// Catches up boards behind PostgreSQL, ends subscriptions to deleted boards, forgets boards
    /// idle past the linger, and re-checks every connection's credential and memberships.
    func sweep() async {
        let (ready, idle) = boards.withLock { boards -> ([Int64: Int64], [Int64]) in
            var ready: [Int64: Int64] = [:]
            var idle: [Int64] = []
            for (id, entry) in boards where entry.ready {
                if let since = entry.idleSince, since.duration(to: .now) > Self.linger {
                    idle.append(id)
                } else {
                    ready[id] = entry.lastVersion
                }
            }
            for id in idle { boards[id] = nil }
            return (ready, idle)
        }
        if !idle.isEmpty { try? await subscriber.unsubscribe(idle.map(RedisKeys.boardChannel)) }
        memberships.withLock { cache in cache = cache.filter { $0.value.duration(to: .now) < Self.membershipTTL } }
        if !ready.isEmpty {
            do {
                let ids = Array(ready.keys)
                let rows = try await postgres.boundedQuery("SELECT id, version FROM boards WHERE id = ANY(\(ids))", logger: logger)
                var existing = Set<Int64>()
                for try await (id, version) in rows.decode((Int64, Int64).self) {
                    existing.insert(id)
                    if let last = ready[id], version > last { requestRefill(id, through: version) }
                    if let last = ready[id], version < last { rewound(id, to: version) }
                }
                for id in ids where !existing.contains(id) { await boardDeleted(id) }
            } catch {
                logger.debug("push sweep could not read board versions", metadata: ["tack.error": "\(error)"])
            }
        }
        await revalidate()
        sweeps.add(1, ordering: .relaxed)
        if sweeps.load(ordering: .relaxed) % 5 == 0 {
            for board in ready.keys { await writePresence(board, refresh: true) }
            await readPresence(Array(ready.keys))
        }
    }

    private func requestRefill(_ board: Int64, through version: Int64) {
        let start = boards.withLock { boards -> Bool in
            guard var entry = boards[board], entry.ready, !entry.refilling else { return false }
            entry.refilling = true
            entry.refillTarget = max(entry.refillTarget, version)
            boards[board] = entry
            return true
        }
        if start { refillRequests.yield(board) }
    }

    private func boardDeleted(_ board: Int64) async {
        let loops = boards.withLock { boards in boards.removeValue(forKey: board)?.loops.values.map(\.hub) ?? [] }
        for loop in loops { loop.eventLoop.execute { loop.endSubscriptions(board: board, userIDs: nil, reason: "deleted") } }
        try? await subscriber.unsubscribe([RedisKeys.boardChannel(board)])
    }

    /// Closes connections whose session ended or token was revoked (4401) and ends subscriptions
    /// whose member left the board (`unsubscribed`, reason `forbidden`).
    func revalidate() async {
        var sessions = Set<Int64>()
        var tokens = Set<Int64>()
        var pairs = Set<MemberPair>()
        for loop in loopHubs {
            guard let found = try? await loop.eventLoop.submit({ loop.credentialsAndMemberships() }).get() else { continue }
            sessions.formUnion(found.sessions)
            tokens.formUnion(found.tokens)
            pairs.formUnion(found.pairs)
        }
        guard !sessions.isEmpty || !tokens.isEmpty else { return }
        do {
            var liveSessions = Set<Int64>()
            var liveTokens = Set<Int64>()
            var members = Set<MemberPair>()
            if !sessions.isEmpty {
                let rows = try await postgres.boundedQuery(
                    "SELECT id FROM sessions WHERE id = ANY(\(Array(sessions))) AND expires_at > now()",
                    logger: logger
                )
                for try await id in rows.decode(Int64.self) { liveSessions.insert(id) }
            }
            if !tokens.isEmpty {
                let rows = try await postgres.boundedQuery(
                    "SELECT id FROM api_tokens WHERE id = ANY(\(Array(tokens))) AND revoked_at IS NULL",
                    logger: logger
                )
                for try await id in rows.decode(Int64.self) { liveTokens.insert(id) }
            }
            if !pairs.isEmpty {
                let boardIDs = Array(Set(pairs.map(\.board)))
                let userIDs = Array(Set(pairs.map(\.user)))
                let rows = try await postgres.boundedQuery(
                    """
                    SELECT board_id, user_id FROM board_members WHERE board_id = ANY(\(boardIDs)) AND user_id = ANY(\(userIDs))
                    """,
                    logger: logger
                )
                for try await (board, user) in rows.decode((Int64, Int64).self) { members.insert(MemberPair(board: board, user: user)) }
            }
            let endedSessions = sessions.subtracting(liveSessions)
            let revokedTokens = tokens.subtracting(liveTokens)
            let lost = pairs.subtracting(members)
            forgetMemberships(lost)
            guard !endedSessions.isEmpty || !revokedTokens.isEmpty || !lost.isEmpty else { return }
            for loop in loopHubs {
                loop.eventLoop.execute { loop.enforce(endedSessions: endedSessions, revokedTokens: revokedTokens, lostMemberships: lost) }
            }
        } catch {
            logger.debug("push sweep could not re-check credentials", metadata: ["tack.error": "\(error)"])
        }
    }

    /// Stops taking Redis messages (used by tests to simulate a process going away).
    func close() {
        subscriber.close()
    }
}

/// A user who has a board open.
struct PresenceUser: Equatable, Sendable {
    var id: Int64
    var name: String
}

/// A user following a board.
struct MemberPair: Hashable, Sendable {
    var board: Int64
    var user: Int64
}
