import CHiredis
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis pub/sub subscriber on a connection and thread of its own (a subscribed connection
/// cannot run other commands), made by ``RedisClient/makeSubscriber(bufferLimit:)``.
///
/// The subscriber remembers the channels asked for. When the connection breaks it reconnects
/// with backoff (50 ms doubling to 2 s) and subscribes to all of them again, so a consumer
/// iterating ``messages`` keeps receiving after a Redis restart. Messages published while it was
/// disconnected are lost: pub/sub has no replay.
///
/// Keep a reference for as long as messages are wanted: dropping the last one closes it.
public final class RedisSubscriber: Sendable {
    /// One published message.
    public struct Message: Sendable, Hashable {
        /// The channel it was published to.
        public let channel: String
        /// The message body, byte for byte.
        public let payload: [UInt8]

        /// Creates a message; public so code consuming ``RedisSubscriber/messages`` can be
        /// tested with messages of its own.
        public init(channel: String, payload: [UInt8]) {
            self.channel = channel
            self.payload = payload
        }
    }

    /// The thread and its state; the client keeps a reference to close it at shutdown.
    let core: SubscriberCore

    /// Every message on the subscribed channels, in the order Redis delivered them. Meant for
    /// one consumer; it finishes when the subscriber is closed.
    public let messages: AsyncStream<Message>

    /// Starts the subscriber's thread; it connects when the first channel is subscribed.
    init(configuration: RedisConfiguration, resolver: MasterResolver, logger: Logger, bufferLimit: Int) {
        let (stream, continuation) = AsyncStream<Message>.makeStream(bufferingPolicy: .bufferingNewest(max(1, bufferLimit)))
        messages = stream
        core = SubscriberCore(configuration: configuration, resolver: resolver, logger: logger, continuation: continuation)
    }

    deinit {
        core.close()
    }

    /// Subscribes to `channels` and returns once Redis confirmed every one, so a message
    /// published after this returns is delivered.
    ///
    /// - Throws: ``RedisError/Code/connectionFailed`` or ``RedisError/Code/connectionClosed`` if
    ///   Redis cannot be reached right now; the channels are still remembered and are subscribed
    ///   as soon as the subscriber reconnects. ``RedisError/Code/connectionClosed`` after
    ///   ``close()``.
    public func subscribe(_ channels: [String]) async throws {
        if channels.isEmpty { return }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            core.submit(.subscribe(channels, continuation))
        }
    }

    /// Unsubscribes from `channels`; returns once Redis confirmed (or at once while
    /// disconnected, since a new connection will not subscribe to them).
    public func unsubscribe(_ channels: [String]) async throws {
        if channels.isEmpty { return }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            core.submit(.unsubscribe(channels, continuation))
        }
    }

    /// Closes the connection, ends ``messages`` and stops the thread. Idempotent.
    public func close() {
        core.close()
    }
}

/// The subscriber's connection thread and its state.
///
/// `@unchecked Sendable`: `shared` is a Mutex; `context`, `wanted`, `pending` and the backoff
/// fields are only touched by the subscriber's own thread, which owns the hiredis context.
final class SubscriberCore: @unchecked Sendable {
    /// A caller's request, handed to the thread.
    enum Operation {
        /// Add channels and wait for Redis' confirmations.
        case subscribe([String], UnsafeContinuation<Void, any Error>)
        /// Remove channels and wait for Redis' confirmations.
        case unsubscribe([String], UnsafeContinuation<Void, any Error>)

        /// Resumes the caller with an error.
        func fail(_ error: any Error) {
            switch self {
            case .subscribe(_, let continuation), .unsubscribe(_, let continuation):
                continuation.resume(throwing: error)
            }
        }
    }

    private struct Shared {
        var operations: [Operation] = []
        var closed = false
        var onClose: (@Sendable () -> Void)?
    }

    /// A subscribe/unsubscribe call waiting for Redis' confirmations.
    private struct PendingConfirmation {
        var isSubscribe: Bool
        /// Channels not confirmed yet (a multiset: `SUBSCRIBE a a` is confirmed twice).
        var remaining: [String]
        var continuation: UnsafeContinuation<Void, any Error>
    }

    private let options: ConnectionOptions
    private let resolver: MasterResolver
    private let logger: Logger
    private let continuation: AsyncStream<RedisSubscriber.Message>.Continuation
    private let shared = Mutex(Shared())
    /// A self-pipe: callers write a byte to wake the thread out of poll().
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private(set) var thread: ConnectionThread!

    // Owned by the subscriber thread.
    private var context: HiredisContext?
    private var wanted: Set<String> = []  // the channels callers asked for, renewed on every reconnect
    private var pending: [PendingConfirmation] = []
    private var backoff = ReconnectBackoff()
    private var nextAttemptAt: UInt64 = 0
    private var lastFailure = ""
    private var hasConnectedBefore = false
    private var droppedMessages = 0
    /// The resolver's epoch when `context` was opened.
    private var connectedEpoch = 0

    /// Creates the wake-up pipe and starts the thread.
    init(
        configuration: RedisConfiguration,
        resolver: MasterResolver,
        logger: Logger,
        continuation: AsyncStream<RedisSubscriber.Message>.Continuation
    ) {
        options = ConnectionOptions(configuration: configuration, name: "tack-redis-sub", dedicated: true)
        self.resolver = resolver
        var logger = logger
        logger[metadataKey: "redis.connection"] = "subscriber"
        self.logger = logger
        self.continuation = continuation
        var fds: [Int32] = [0, 0]
        let status = pipe(&fds)
        precondition(status == 0, "pipe() failed: errno \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        thread = ConnectionThread(name: "tack-redis-sub") { [self] in self.threadMain() }
    }

    deinit {
        closeDescriptor(wakeRead)
        closeDescriptor(wakeWrite)
    }

    /// Called once after the subscriber closed (the client uses it to forget the subscriber).
    var onClose: (@Sendable () -> Void)? {
        get { shared.withLock { $0.onClose } }
        set { shared.withLock { $0.onClose = newValue } }
    }

    /// Hands an operation to the thread, or fails it if the subscriber is closed.
    func submit(_ operation: Operation) {
        let accepted = shared.withLock { state -> Bool in
            if state.closed { return false }
            state.operations.append(operation)
            return true
        }
        if accepted {
            wake()
        } else {
            operation.fail(RedisError(.connectionClosed, "the Redis subscriber is closed"))
        }
    }

    /// Asks the thread to close the connection, fail pending calls and finish the stream.
    func close() {
        let first = shared.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { wake() }
    }

    private func wake() {
        var byte: UInt8 = 1
        // A full pipe already guarantees a wake-up, so EAGAIN is fine to ignore.
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWakePipe() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    // MARK: - Subscriber thread

    private func threadMain() {
        while true {
            let (operations, closed) = shared.withLock { state -> ([Operation], Bool) in
                defer { state.operations = [] }
                return (state.operations, state.closed)
            }
            if closed {
                let error = RedisError(.connectionClosed, "the Redis subscriber was closed")
                for operation in operations { operation.fail(error) }
                for confirmation in pending { confirmation.continuation.resume(throwing: error) }
                pending = []
                break
            }
            for operation in operations { handle(operation) }

            if context == nil {
                // Reconnect when there is something to subscribe to; otherwise wait for work.
                if !wanted.isEmpty {
                    let now = Monotonic.now()
                    if now >= nextAttemptAt {
                        _ = connect()
                        continue
                    }
                    let waitMs = Int32(min((nextAttemptAt - now) / 1_000_000 + 1, 2_000))
                    if tack_poll_readable(wakeRead, waitMs) == 1 { drainWakePipe() }
                } else {
                    if tack_poll_readable(wakeRead, -1) == 1 { drainWakePipe() }
                }
                continue
            }

            guard let context else { continue }
            if resolver.usesSentinel && connectedEpoch != resolver.epoch {
                // The master moved (or another connection suspects so): re-resolve and subscribe
                // again there, rather than listening to a server that may be a replica now.
                lose(RedisError(.connectionClosed, "the Redis master moved"))
                continue
            }
            // With Sentinel, wake up twice a second to notice an epoch change.
            let ready = tack_poll_two(context.fileDescriptor, wakeRead, resolver.usesSentinel ? 500 : -1)
            if ready < 0 {
                lose(RedisError(.connectionClosed, "poll() on the subscriber connection failed: errno \(errno)"))
                continue
            }
            if ready & 2 != 0 { drainWakePipe() }
            if ready & 1 != 0 {
                do {
                    try context.readAvailable()
                    while let reply = try context.bufferedReply() { dispatch(reply) }
                } catch {
                    lose(error)
                }
            }
        }
        context = nil
        continuation.finish()
        let onClose = shared.withLock { state -> (@Sendable () -> Void)? in
            defer { state.onClose = nil }
            return state.onClose
        }
        onClose?()
        logger.debug("Redis subscriber closed")
    }

    private func handle(_ operation: Operation) {
        switch operation {
        case .subscribe(let channels, let continuation):
            wanted.formUnion(channels)
            if context == nil {
                // Fail fast while Redis is down, but keep the channels: they are subscribed on
                // reconnect. Try right away unless a backoff is running.
                if Monotonic.now() < nextAttemptAt || !connect(resubscribing: channels) {
                    continuation.resume(throwing: RedisError(.connectionFailed, lastFailure))
                    return
                }
                // connect() already sent SUBSCRIBE for everything wanted, including these.
                pending.append(PendingConfirmation(isSubscribe: true, remaining: channels, continuation: continuation))
                return
            }
            send(["SUBSCRIBE"] + channels, confirming: PendingConfirmation(isSubscribe: true, remaining: channels, continuation: continuation))
        case .unsubscribe(let channels, let continuation):
            wanted.subtract(channels)
            guard context != nil else {
                continuation.resume()
                return
            }
            send(["UNSUBSCRIBE"] + channels, confirming: PendingConfirmation(isSubscribe: false, remaining: channels, continuation: continuation))
        }
    }

    private func send(_ command: [String], confirming confirmation: PendingConfirmation) {
        guard let context else { return }
        var encoder = RESPCommandEncoder()
        encoder.appendCommand(command)
        do {
            try context.append(encoder.bytes)
            try context.flush()
            pending.append(confirmation)
        } catch {
            confirmation.continuation.resume(throwing: error)
            lose(error)
        }
    }

    /// Connects and subscribes to every wanted channel. Returns whether it connected.
    /// `resubscribing` is only used to word the log line.
    @discardableResult
    private func connect(resubscribing channels: [String] = []) -> Bool {
        if hasConnectedBefore || backoff.failures > 0 {
            logger.warning("Reconnecting Redis subscriber", metadata: ["redis.attempt": "\(backoff.failures + 1)"])
        }
        do {
            let (context, epoch) = try resolver.connect(options: options) { shared.withLock { $0.closed } }
            connectedEpoch = epoch
            if !wanted.isEmpty {
                var encoder = RESPCommandEncoder()
                encoder.appendCommand(["SUBSCRIBE"] + wanted.sorted())
                try context.append(encoder.bytes)
                try context.flush()
            }
            logger.info(
                hasConnectedBefore ? "Redis subscriber reconnected" : "Redis subscriber connected",
                metadata: ["redis.channels": "\(wanted.count)"]
            )
            hasConnectedBefore = true
            backoff.reset()
            nextAttemptAt = 0
            self.context = context
            return true
        } catch {
            let message = error.message
            let delay = backoff.nextDelay()
            nextAttemptAt = Monotonic.now() &+ delay
            lastFailure = message
            logger.warning(
                "Redis subscriber could not connect",
                metadata: ["error": "\(message)", "redis.retry_in_ms": "\(delay / 1_000_000)"]
            )
            return false
        }
    }

    /// Drops a broken connection. Calls waiting for confirmation fail (subscribes stay wanted
    /// and are renewed on reconnect; unsubscribes are complete since the server forgot them).
    private func lose(_ error: any Error) {
        context = nil
        if let error = error as? RedisError, error.code == .connectionClosed || error.code == .protocolError {
            resolver.invalidate(seen: connectedEpoch, reason: error.message)
        }
        logger.warning("Redis subscriber connection lost; will reconnect", metadata: ["error": "\(error)"])
        let closedError = RedisError(.connectionClosed, "the subscriber connection was lost: \((error as? RedisError)?.message ?? "\(error)")")
        for confirmation in pending {
            if confirmation.isSubscribe {
                confirmation.continuation.resume(throwing: closedError)
            } else {
                confirmation.continuation.resume()
            }
        }
        pending = []
    }

    private func dispatch(_ reply: RESPValue) {
        guard case .array(let parts) = reply, let kind = parts.first?.string else { return }
        switch kind {
        case "message":
            guard parts.count == 3, let channel = parts[1].string, let payload = parts[2].bytes else { return }
            if case .dropped = continuation.yield(RedisSubscriber.Message(channel: channel, payload: payload)) {
                droppedMessages += 1
                if droppedMessages == 1 || droppedMessages % 10_000 == 0 {
                    logger.warning(
                        "Redis subscriber consumer is too slow; dropping oldest messages",
                        metadata: ["redis.dropped": "\(droppedMessages)"]
                    )
                }
            }
        case "subscribe", "unsubscribe":
            guard parts.count >= 2, let channel = parts[1].string else { return }
            let isSubscribe = kind == "subscribe"
            if let index = pending.firstIndex(where: { $0.isSubscribe == isSubscribe && $0.remaining.contains(channel) }) {
                let position = pending[index].remaining.firstIndex(of: channel)!
                pending[index].remaining.remove(at: position)
                if pending[index].remaining.isEmpty {
                    let done = pending.remove(at: index)
                    done.continuation.resume()
                }
            }
        default:
            break  // pong and anything else a subscribed connection may see
        }
    }
}

/// close(2), at file scope so it is not shadowed by `SubscriberCore.close()`.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
