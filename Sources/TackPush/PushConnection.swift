import CoreMetrics
import Foundation
import NIOCore

/// Who a connection belongs to, from its handshake.
struct Principal: Sendable {
    enum Credential: Sendable, Hashable {
        case session(Int64)
        case token(Int64)
    }

    var userID: Int64
    var name: String
    var credential: Credential
}

/// Where a connection's messages go: a WebSocket channel or an SSE response.
protocol PushTransport: AnyObject {
    /// Writes one message; returns false when the client was cut off instead (too slow).
    /// `frame`, when given, is the message already framed for WebSockets (shared by recipients).
    /// `position` is the board version the client has once it has this message. Without `flush`
    /// the message may wait for the next write with `flush` or for `flush()`.
    func write(_ message: ByteBuffer, frame: ByteBuffer?, position: (board: Int64, version: Int64)?, flush: Bool) -> Bool
    /// Sends what writes without `flush` left waiting (nothing when there is none).
    func flush()
    /// Closes with a protocol close code.
    func close(code: UInt16, reason: String)
    /// Sends a ping; false when the transport has no pings of its own.
    func ping() -> Bool
    /// Whether a write now goes straight out (nothing queued): history is sent only while it does,
    /// and the transport calls `PushConnection.writable()` when it does again.
    var hasRoom: Bool { get }
}

extension PushTransport {
    /// Writes one message and sends it at once.
    func write(_ message: ByteBuffer, frame: ByteBuffer?, position: (board: Int64, version: Int64)?) -> Bool {
        write(message, frame: frame, position: position, flush: true)
    }
}

/// One client's subscriptions and the rules of the protocol, independent of the transport.
///
/// Loop-confined: every method runs on the loop of `hub` (the channel's), so there is no lock
/// and no Task per connection. Exactly once, in order, per board: `lastSent` only grows; live
/// events are held back while the history after the client's `after` is read, then merged.
final class PushConnection {
    struct Subscription {
        /// Incremented on every (re)subscribe, so late answers to an older one are ignored.
        var generation: Int
        var registered = false
        var catchingUp = true
        var lastSent: Int64 = 0
        var buffered: [PushEvent] = []
        /// History not sent yet: sent as the client reads, so a long catch-up never fills the
        /// outbound queue of a client that does read.
        var backlog: ArraySlice<PushEvent> = []
        /// The id the client holds for version `lastSent + 1`, checked against the first event the
        /// catch-up reads (`subscribe`'s `after_id`).
        var expectedID: UUID?
    }

    let principal: Principal
    let hub: LoopHub
    let boards: BoardHub
    let limits: PushLimits
    /// Held until `tearDown()` (a WebSocket's handler holds this connection in turn; the cycle
    /// ends when the channel goes).
    private(set) var transport: (any PushTransport)?
    private(set) var subscriptions: [Int64: Subscription] = [:]
    private var generation = 0
    private(set) var closed = false

    // Rate limit: a token bucket of `limits.messagesPerSecond`, burst `limits.messageBurst`.
    private var tokens: Double
    private var lastRefill = NIODeadline.now()
    private var refusedInARow = 0
    private var lastLimitNotice: NIODeadline?

    // Pings.
    private var nextPing: NIODeadline
    private var awaitingPong = false

    init(principal: Principal, hub: LoopHub, boards: BoardHub, limits: PushLimits, transport: any PushTransport) {
        self.principal = principal
        self.hub = hub
        self.boards = boards
        self.limits = limits
        self.transport = transport
        tokens = Double(limits.messageBurst)
        // Spread pings over the interval so they do not all go out in the same second.
        let interval = limits.pingInterval.nanoseconds
        nextPing = .now() + .nanoseconds(Int64.random(in: interval / 2...max(interval / 2, interval)))
    }

    /// Joins the loop's registry (call once, on the loop).
    func open() {
        hub.add(self)
    }

    // MARK: - Inbound

    /// One text message from the client.
    func receive(_ bytes: ByteBuffer) {
        guard !closed, allowMessage() else { return }
        do {
            switch try ClientMessage.parse(bytes.readableBytesView) {
            case .subscribe(let board, let after, let afterID): subscribe(board: board, after: after, afterID: afterID)
            case .unsubscribe(let board): unsubscribe(board: board)
            }
        } catch {
            send(ServerMessage.error(code: error.code, message: error.message, field: error.field))
        }
    }

    private func allowMessage() -> Bool {
        let now = NIODeadline.now()
        let elapsed = Double((now - lastRefill).nanoseconds) / 1e9
        lastRefill = now
        tokens = min(Double(limits.messageBurst), tokens + elapsed * Double(limits.messagesPerSecond))
        if tokens >= 1 {
            tokens -= 1
            refusedInARow = 0
            return true
        }
        refusedInARow += 1
        if refusedInARow > limits.refusalsBeforeClose {
            close(code: PushCloseCode.policyViolation, reason: "rate limit")
            return false
        }
        if lastLimitNotice.map({ now - $0 > .seconds(1) }) ?? true {
            lastLimitNotice = now
            send(
                ServerMessage.error(
                    code: "rate_limited",
                    message: "More than \(limits.messagesPerSecond) messages per second; this one was dropped."
                )
            )
        }
        return false
    }

    func subscribe(board: Int64, after: Int64?, afterID: UUID?) {
        if let existing = subscriptions[board] {
            if existing.registered {
                hub.stopListening(self, board: board)
                boards.release(board: board, loop: hub, userID: principal.userID)
            }
        } else if subscriptions.count >= limits.maxSubscriptions {
            send(
                ServerMessage.error(
                    code: "too_many_subscriptions",
                    message: "A connection follows at most \(limits.maxSubscriptions) boards; unsubscribe from one first.",
                    board: board
                )
            )
            return
        }
        generation += 1
        let generation = self.generation
        subscriptions[board] = Subscription(generation: generation)
        let userID = principal.userID
        let boards = self.boards
        hub.eventLoop.makeFutureWithTask {
            try await boards.prepare(board: board, userID: userID)
        }.whenComplete { result in
            guard !self.closed, self.subscriptions[board]?.generation == generation else { return }
            switch result {
            case .success(.allowed):
                self.start(board: board, after: after, afterID: afterID, generation: generation)
            case .success(.notFound):
                self.subscriptions[board] = nil
                self.send(
                    ServerMessage.error(code: "board_not_found", message: "No board with this id, or you are not a member of it.", board: board)
                )
            case .failure:
                self.subscriptions[board] = nil
                self.send(ServerMessage.error(code: "unavailable", message: "The server could not subscribe right now; try again.", board: board))
            }
        }
    }

    /// Registers with the hub (the point from which live events come) and sends what is missing.
    private func start(board: Int64, after: Int64?, afterID: UUID?, generation: Int) {
        guard let (live, presence) = boards.register(board: board, loop: hub, user: principal) else {
            // The hub forgot the board in between (it went idle): prepare again.
            subscriptions[board] = nil
            subscribe(board: board, after: after, afterID: afterID)
            return
        }
        hub.listen(self, board: board)
        subscriptions[board]?.registered = true
        send(ServerMessage.subscribed(board: board, version: live), position: (board, after.map { min($0, live) } ?? live))
        if !presence.isEmpty { send(ServerMessage.presence(board: board, users: presence.map { ($0.id, $0.name) })) }
        if let after, after > live {
            // The client holds versions the server does not have: PostgreSQL lost them.
            subscriptions[board]?.lastSent = live
            rewritten(board: board, version: live)
            finishCatchUp(board: board)
            return
        }
        if let after, let afterID, after > 0 {
            // Read from the client's last event on, to check it is the one the server has.
            subscriptions[board]?.lastSent = after - 1
            subscriptions[board]?.expectedID = afterID
            catchUp(board: board, through: live, attempt: 0)
            return
        }
        guard let after, after < live else {
            subscriptions[board]?.lastSent = after ?? live
            finishCatchUp(board: board)
            return
        }
        subscriptions[board]?.lastSent = after
        catchUp(board: board, through: live, attempt: 0)
    }

    /// Tells the client that the board's history after `version` is not what it was sent.
    private func rewritten(board: Int64, version: Int64) {
        boards.metrics.resyncs.increment()
        send(ServerMessage.resync(board: board, reason: ResyncReason.rewritten.rawValue, version: version), position: (board, version))
    }

    private func catchUp(board: Int64, through target: Int64, attempt: Int) {
        guard let subscription = subscriptions[board] else { return }
        let (generation, from) = (subscription.generation, subscription.lastSent)
        let boards = self.boards
        hub.eventLoop.makeFutureWithTask {
            try await boards.history(board: board, after: from, through: target)
        }.whenComplete { result in
            guard !self.closed, self.subscriptions[board]?.generation == generation else { return }
            switch result {
            case .success(.events(var events)):
                if let expected = self.subscriptions[board]?.expectedID {
                    self.subscriptions[board]?.expectedID = nil
                    guard let first = events.first, first.version == from + 1, first.id == expected else {
                        // The client's event at `after` is not the server's: the history was
                        // rewritten. The client reloads the board at the version subscribed.
                        self.subscriptions[board]?.lastSent = target
                        self.rewritten(board: board, version: target)
                        self.finishCatchUp(board: board)
                        return
                    }
                    self.subscriptions[board]?.lastSent = first.version
                    events.removeFirst()
                }
                self.subscriptions[board]?.backlog = events[...]
                self.pumpBacklog(board: board)
            case .success(.pruned):
                self.boards.metrics.resyncs.increment()
                self.subscriptions[board]?.lastSent = target
                self.subscriptions[board]?.expectedID = nil
                self.send(ServerMessage.resync(board: board, reason: ResyncReason.pruned.rawValue, version: target), position: (board, target))
                self.finishCatchUp(board: board)
            case .failure:
                guard attempt < 10 else {
                    self.close(code: 1011, reason: "history unavailable")
                    return
                }
                self.hub.eventLoop.scheduleTask(in: .milliseconds(200 << min(attempt, 4))) {
                    self.catchUp(board: board, through: target, attempt: attempt + 1)
                }
            }
        }
    }

    /// Sends history while the transport has room; finishes the catch-up when all is sent.
    private func pumpBacklog(board: Int64) {
        var sent = 0
        while !closed, transport?.hasRoom == true, var subscription = subscriptions[board], let next = subscription.backlog.popFirst() {
            subscriptions[board] = subscription
            if sendEvent(next) { sent += 1 }
        }
        if sent > 0 { boards.metrics.deliveries.increment(by: Int64(sent)) }
        if !closed, let subscription = subscriptions[board], subscription.catchingUp, subscription.backlog.isEmpty {
            finishCatchUp(board: board)
        }
    }

    /// The transport has room again: continue any history being sent.
    func writable() {
        for (board, subscription) in subscriptions where !subscription.backlog.isEmpty {
            pumpBacklog(board: board)
        }
    }

    /// Sends what arrived live during the catch-up, then goes live.
    private func finishCatchUp(board: Int64) {
        guard var subscription = subscriptions[board] else { return }
        let buffered = subscription.buffered.sorted { $0.version < $1.version }
        subscription.buffered = []
        subscription.catchingUp = false
        subscriptions[board] = subscription
        for event in buffered { deliver(event) }
    }

    private func unsubscribe(board: Int64) {
        guard subscriptions[board] != nil else {
            send(ServerMessage.error(code: "invalid_field", message: "Not subscribed to this board.", field: "board", board: board))
            return
        }
        endSubscription(board: board, reason: "requested")
    }

    // MARK: - Outbound

    /// Live events from the hub (one board, consecutive versions), sent with one flush.
    /// Returns how many were written to this client now (for the loop's delivery count).
    func deliver(_ events: [PushEvent]) -> Int {
        guard events.count > 1 else { return events.first.map { deliver($0, flush: true) ? 1 : 0 } ?? 0 }
        var sent = 0
        for event in events where deliver(event, flush: false) { sent += 1 }
        transport?.flush()
        return sent
    }

    /// A live event from the hub (consecutive versions per board).
    /// Returns whether the event was written to this client now.
    @discardableResult
    private func deliver(_ event: PushEvent, flush: Bool = true) -> Bool {
        guard !closed, let slot = subscriptions.index(forKey: event.board), subscriptions.values[slot].registered else { return false }
        if subscriptions.values[slot].catchingUp {
            var subscription = subscriptions.values[slot]
            subscription.buffered.append(event)
            subscriptions[event.board] = subscription
            if subscription.buffered.count > limits.queueLimit * 4 { cutOff() }
            return false
        }
        let lastSent = subscriptions.values[slot].lastSent
        if event.version <= lastSent { return false }
        if event.version > lastSent + 1 {
            var subscription = subscriptions.values[slot]
            // Not expected (the hub delivers in order); read the gap back rather than skip it.
            subscription.catchingUp = true
            subscription.buffered = [event]
            subscriptions[event.board] = subscription
            catchUp(board: event.board, through: event.version - 1, attempt: 0)
            return false
        }
        return sendEvent(event, flush: flush)
    }

    @discardableResult
    private func sendEvent(_ event: PushEvent, flush: Bool = true) -> Bool {
        guard let slot = subscriptions.index(forKey: event.board), event.version > subscriptions.values[slot].lastSent else { return false }
        subscriptions.values[slot].lastSent = event.version
        guard let transport, transport.write(event.json, frame: event.frame, position: (event.board, event.version), flush: flush) else {
            cutOff()
            return false
        }
        if event.removedUser == principal.userID {
            endSubscription(board: event.board, reason: "forbidden")
        }
        return true
    }

    /// Who has a subscribed board open changed.
    func presence(board: Int64, message: ByteBuffer) {
        guard subscriptions[board]?.registered == true else { return }
        send(message)
    }

    /// The hub could not fill a gap, or found the history rewritten: tell the client to reload the
    /// board; it follows from `version`.
    func resync(board: Int64, version: Int64, reason: ResyncReason) {
        guard var subscription = subscriptions[board], subscription.registered else { return }
        switch reason {
        case .pruned:
            subscription.lastSent = max(subscription.lastSent, version)
        case .rewritten:
            // What was sent after `version`, queued or being read back belongs to the lost history.
            guard subscription.lastSent > version || subscription.catchingUp else { return }
            generation += 1
            subscription.generation = generation
            subscription.lastSent = version
            subscription.buffered = []
            subscription.backlog = []
            subscription.expectedID = nil
            subscription.catchingUp = false
        }
        subscriptions[board] = subscription
        send(ServerMessage.resync(board: board, reason: reason.rawValue, version: version), position: (board, version))
    }

    /// Ends one subscription and tells the client why.
    func endSubscription(board: Int64, reason: String) {
        guard let subscription = subscriptions.removeValue(forKey: board) else { return }
        if subscription.registered {
            hub.stopListening(self, board: board)
            boards.release(board: board, loop: hub, userID: principal.userID)
        }
        send(ServerMessage.unsubscribed(board: board, reason: reason))
    }

    private func send(_ message: ByteBuffer, position: (board: Int64, version: Int64)? = nil) {
        guard !closed, let transport else { return }
        if !transport.write(message, frame: nil, position: position) { cutOff() }
    }

    private func cutOff() {
        guard !closed else { return }
        boards.metrics.cutoffs.increment()
        close(code: PushCloseCode.tooSlow, reason: "too slow; resume from your last version")
    }

    // MARK: - Lifecycle

    /// Closes the transport (which calls `closed()` when the connection is gone).
    func close(code: UInt16, reason: String) {
        guard !closed else { return }
        transport?.close(code: code, reason: reason)
        tearDown()
    }

    /// The connection is gone: leave every registry.
    func tearDown() {
        guard !closed else { return }
        closed = true
        for (board, subscription) in subscriptions where subscription.registered {
            hub.stopListening(self, board: board)
            boards.release(board: board, loop: hub, userID: principal.userID)
        }
        subscriptions = [:]
        hub.remove(self)
        transport = nil
    }

    /// A pong arrived.
    func pong() {
        awaitingPong = false
    }

    /// Called once a second by the loop's sweep.
    func tick(now: NIODeadline) {
        guard !closed, now >= nextPing else { return }
        if awaitingPong {
            close(code: PushCloseCode.goingAway, reason: "no pong")
            return
        }
        nextPing = now + .nanoseconds(limits.pingInterval.nanoseconds)
        if transport?.ping() == true { awaitingPong = true }
    }

    /// SIGTERM: close with 1012 at a random moment within `window`.
    func drain(within window: TimeAmount) {
        let delay = window.nanoseconds > 0 ? TimeAmount.nanoseconds(Int64.random(in: 0...window.nanoseconds)) : .zero
        hub.eventLoop.scheduleTask(in: delay) {
            self.close(code: PushCloseCode.draining, reason: "server restarting; reconnect")
        }
    }
}

/// Per-connection limits (`docs/push-protocol.md`).
struct PushLimits: Sendable {
    var maxSubscriptions: Int
    var pingInterval: TimeAmount
    /// SIGTERM: clients are closed with 1012 at random moments within this window.
    var drainWindow: TimeAmount
    var messagesPerSecond = 20
    var messageBurst = 40
    /// Messages refused in a row before the connection is closed (1008).
    var refusalsBeforeClose = 200
    /// Messages queued for a client that does not read before it is cut off (4008).
    var queueLimit = 256
    /// Bytes queued for such a client before it is cut off.
    var queueBytes = 1 << 20
}
