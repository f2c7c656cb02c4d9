import CoreMetrics
import Foundation
import NIOCore
import Synchronization

/// The connections of one event loop, by board; touched only on that loop.
///
/// Fan-out is one `execute` per loop with listeners of a board, then a plain loop over that
/// board's connections, kept in an array (walked per event, so it is contiguous rather than a
/// hash table's buckets): no Task, no future, no lock per connection. Events handed over while
/// the loop is still busy with earlier ones wait in an inbox and go out together, one write of
/// each and one flush per connection. The ping sweep runs here too, once a second, instead of
/// a timer per connection.
///
/// `@unchecked Sendable`: every mutable property but the inbox (behind its own lock) is read and
/// written on `eventLoop` only; other threads reach this object through `handOver` and
/// `eventLoop.execute`/`submit`.
final class LoopHub: @unchecked Sendable {
    let eventLoop: any EventLoop
    let metrics: PushMetrics
    private(set) var boards: [Int64: Listeners] = [:]
    private(set) var connections: [ObjectIdentifier: PushConnection] = [:]
    private var sweepTask: RepeatedTask?
    /// What the board hub handed over and the loop has not taken yet, in order; `scheduled` while
    /// a task to take it is on its way.
    private let inbox = Mutex<(items: [Handover], scheduled: Bool)>(([], false))

    /// Work from the board hub for this loop's listeners.
    enum Handover {
        /// Events of one board, consecutive versions following what was handed over before.
        case events([PushEvent])
        /// The board's listeners restart from `version`: the hub could not refill a gap
        /// (`history_pruned`), or PostgreSQL lost commits they were sent (`history_rewritten`).
        case resync(board: Int64, version: Int64, reason: ResyncReason)
    }

    init(eventLoop: any EventLoop, metrics: PushMetrics) {
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    /// Starts the once-a-second sweep (pings, pong deadlines).
    func start() {
        eventLoop.execute {
            self.sweepTask = self.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                let now = NIODeadline.now()
                for connection in self.connections.values { connection.tick(now: now) }
            }
        }
    }

    func stop() {
        eventLoop.execute { self.sweepTask?.cancel() }
    }

    func add(_ connection: PushConnection) {
        connections[ObjectIdentifier(connection)] = connection
        metrics.connectionOpened()
    }

    func remove(_ connection: PushConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil { metrics.connectionClosed() }
    }

    func listen(_ connection: PushConnection, board: Int64) {
        guard boards[board, default: Listeners()].insert(connection) else { return }
        metrics.subscriptions.increment()
    }

    func stopListening(_ connection: PushConnection, board: Int64) {
        guard boards[board]?.remove(connection) == true else { return }
        if boards[board]?.connections.isEmpty == true { boards[board] = nil }
        metrics.subscriptions.decrement()
    }

    /// Queues work for this loop, from any thread; it is done in the order handed over.
    func handOver(_ item: Handover) {
        let schedule = inbox.withLock { inbox -> Bool in
            inbox.items.append(item)
            defer { inbox.scheduled = true }
            return !inbox.scheduled
        }
        if schedule { eventLoop.execute { self.takeInbox() } }
    }

    /// Does everything handed over so far; consecutive events of a board go out as one batch.
    private func takeInbox() {
        let items = inbox.withLock { inbox -> [Handover] in
            inbox.scheduled = false
            defer { inbox.items = [] }
            return inbox.items
        }
        var batch: [PushEvent] = []
        for item in items {
            switch item {
            case .events(let events):
                if let board = batch.first?.board, board != events.first?.board {
                    deliver(batch)
                    batch = []
                }
                batch += events
            case .resync(let board, let version, let reason):
                deliver(batch)
                batch = []
                resync(board: board, version: version, reason: reason)
            }
        }
        deliver(batch)
    }

    /// Hands events (one board, consecutive versions) to that board's connections on this loop,
    /// each connection's share written with one flush. Metrics are recorded once per event and
    /// loop, not per recipient (a shared counter or histogram per delivery would contend between
    /// the loops).
    private func deliver(_ events: [PushEvent]) {
        guard let board = events.first?.board, let listeners = boards[board]?.connections else { return }
        var sent = 0
        for connection in listeners { sent += connection.deliver(events) }
        guard sent > 0 else { return }
        metrics.deliveries.increment(by: Int64(sent))
        let now = Date().timeIntervalSince1970
        for event in events { metrics.latency.recordSeconds(max(0, now - event.committedAt)) }
    }

    /// Every listener of `board` restarts from `version`.
    private func resync(board: Int64, version: Int64, reason: ResyncReason) {
        guard let listeners = boards[board] else { return }
        for connection in listeners.connections { connection.resync(board: board, version: version, reason: reason) }
    }

    /// Tells `board`'s listeners on this loop who has it open.
    func presence(board: Int64, message: ByteBuffer) {
        guard let listeners = boards[board] else { return }
        for connection in listeners.connections { connection.presence(board: board, message: message) }
    }

    /// Ends the subscriptions to `board` (of `userIDs` only, when given).
    func endSubscriptions(board: Int64, userIDs: Set<Int64>?, reason: String) {
        guard let listeners = boards[board] else { return }
        for connection in listeners.connections where userIDs?.contains(connection.principal.userID) ?? true {
            connection.endSubscription(board: board, reason: reason)
        }
    }

    /// Every session, token and (board, user) pair followed on this loop, for the sweep.
    func credentialsAndMemberships() -> (sessions: Set<Int64>, tokens: Set<Int64>, pairs: Set<MemberPair>) {
        var sessions = Set<Int64>()
        var tokens = Set<Int64>()
        var pairs = Set<MemberPair>()
        for connection in connections.values {
            switch connection.principal.credential {
            case .session(let id): sessions.insert(id)
            case .token(let id): tokens.insert(id)
            }
        }
        for (board, listeners) in boards {
            for connection in listeners.connections { pairs.insert(MemberPair(board: board, user: connection.principal.userID)) }
        }
        return (sessions, tokens, pairs)
    }

    /// Applies what the sweep found.
    func enforce(endedSessions: Set<Int64>, revokedTokens: Set<Int64>, lostMemberships: Set<MemberPair>) {
        for connection in connections.values {
            switch connection.principal.credential {
            case .session(let id) where endedSessions.contains(id):
                connection.close(code: PushCloseCode.notSignedIn, reason: "signed out")
            case .token(let id) where revokedTokens.contains(id):
                connection.close(code: PushCloseCode.notSignedIn, reason: "token revoked")
            default:
                break
            }
        }
        for pair in lostMemberships {
            endSubscriptions(board: pair.board, userIDs: [pair.user], reason: "forbidden")
        }
    }

    /// Tells every connection of this loop to go (SIGTERM drain).
    func drain(within window: TimeAmount) {
        for connection in connections.values { connection.drain(within: window) }
    }
}

/// One board's listeners on a loop: an array to walk, and each connection's place in it (so a
/// connection leaves in constant time, the last one taking its place).
struct Listeners {
    private(set) var connections: ContiguousArray<PushConnection> = []
    private var places: [ObjectIdentifier: Int] = [:]

    /// Adds `connection`; false when it was there already.
    mutating func insert(_ connection: PushConnection) -> Bool {
        let key = ObjectIdentifier(connection)
        guard places[key] == nil else { return false }
        places[key] = connections.count
        connections.append(connection)
        return true
    }

    /// Removes `connection`; false when it was not there.
    mutating func remove(_ connection: PushConnection) -> Bool {
        guard let place = places.removeValue(forKey: ObjectIdentifier(connection)) else { return false }
        let last = connections.removeLast()
        if place < connections.count {
            connections[place] = last
            places[ObjectIdentifier(last)] = place
        }
        return true
    }
}
