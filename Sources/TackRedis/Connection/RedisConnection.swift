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

/// Set by a caller's cancellation handler, read by the connection thread between poll() slices.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Whether the waiting task was cancelled.
    var isSet: Bool { flag.load(ordering: .acquiring) }
    /// Marks the request as abandoned.
    func set() { flag.store(true, ordering: .releasing) }
}

/// One caller waiting for the replies to the commands it queued.
struct PendingRequest {
    /// Where the replies go: one reply, or all replies of a `pipeline()` call.
    enum Waiter {
        /// A single command (`send`).
        case one(UnsafeContinuation<RESPValue, any Error>)
        /// A `pipeline()` call: all replies together, in order.
        case many(UnsafeContinuation<[RESPValue], any Error>)
    }

    /// RESP-encoded command(s), ready for hiredis' output buffer.
    var payload: [UInt8]
    /// How many replies the payload produces.
    var replyCount: Int
    /// The suspended caller.
    var waiter: Waiter
    /// How long to wait for a reply without progress; `UInt64.max` for no limit.
    var timeoutNanoseconds: UInt64
    /// Only requests on blocking connections can be cancelled mid-wait.
    var cancellation: CancellationFlag?

    /// Resumes the caller with an error. Every request is resumed exactly once: either here or
    /// with its replies.
    func fail(_ error: any Error) {
        switch waiter {
        case .one(let continuation): continuation.resume(throwing: error)
        case .many(let continuation): continuation.resume(throwing: error)
        }
    }
}

/// Settings a connection thread needs, derived from ``RedisConfiguration``.
struct ConnectionOptions: Sendable {
    /// Redis host.
    var host: String
    /// Redis port.
    var port: Int
    /// AUTH password, sent on every connect.
    var password: String?
    /// SELECTed on every connect when not 0.
    var database: Int
    /// Connect (and AUTH/SELECT) timeout.
    var connectTimeoutMilliseconds: Int
    /// SO_SNDTIMEO/SO_RCVTIMEO; bounds writes (reads are guarded by poll()).
    var socketTimeoutMilliseconds: Int
    /// Spin this long waiting for a reply before sleeping in poll(). See `HiredisContext.readReply`.
    var replySpinNanoseconds: UInt64
    /// Spin this long waiting for the next command before sleeping on the condition variable:
    /// a sequential caller usually sends its next command within microseconds, and catching it
    /// awake saves a futex wake-up per round trip.
    var idleSpinNanoseconds: UInt64
    /// TCP keepalive, for connections that sit silent for a long time (blocking reads).
    var keepAlive: Bool
    /// A blocking-read or subscriber connection (no pool command timeout).
    var dedicated: Bool
    /// Thread name (visible in `top -H`, gdb) and `CLIENT SETNAME` (visible in `CLIENT LIST`).
    var name: String

    /// `host:port` for logs and errors.
    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Options for a pooled connection, or for a `dedicated` one (blocking reads, pub/sub),
    /// which gets no spinning, keepalive, and a socket timeout that only bounds writes.
    init(configuration: RedisConfiguration, name: String, dedicated: Bool) {
        host = configuration.host
        port = configuration.port
        password = configuration.password
        database = configuration.database
        connectTimeoutMilliseconds = max(1, Monotonic.milliseconds(configuration.connectTimeout))
        socketTimeoutMilliseconds = max(
            1,
            Monotonic.milliseconds(dedicated ? max(configuration.connectTimeout, configuration.commandTimeout) : configuration.commandTimeout)
        )
        // Measured with bench/redis on a 2-core VM: a loopback round trip takes 40-60 µs and
        // waking a sleeping thread costs about as much again, so spinning up to 50 µs on each
        // side of the hand-off raised one sequential caller from ~13k to ~24k GET/s, while
        // an idle connection still sleeps after 50 µs. Dedicated connections mostly wait for
        // long BLOCKs, where spinning would only burn CPU.
        replySpinNanoseconds = dedicated ? 0 : 50_000
        idleSpinNanoseconds = dedicated ? 0 : 50_000
        keepAlive = dedicated
        self.dedicated = dedicated
        self.name = name
    }
}

/// A Redis connection with its own OS thread, serving callers through a queue and writing
/// everything queued as one pipeline ("auto-pipelining").
///
/// Callers (any task, any thread) append a request under `lock` and signal `wakeup` if the
/// thread sleeps. The thread takes *all* queued requests at once, appends their bytes to the
/// hiredis output buffer, flushes with one write, then reads the replies in order and resumes
/// each caller. With 64 callers one round trip serves dozens of commands; with one caller the
/// cost is one hand-off each way.
///
/// `@unchecked Sendable`: `queue`, `threadIsSleeping` and `isClosing` are only touched with
/// `lock` held; `context`, `backoff` and the other thread-state fields are only touched by the
/// connection's own thread — one thread owns the hiredis context for its whole life.
final class RedisConnection: @unchecked Sendable {
    /// Where to connect and how to wait.
    let options: ConnectionOptions
    private let logger: Logger
    /// Finds the master (through Sentinel when configured) and tracks the epoch.
    private let resolver: MasterResolver

    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let wakeup: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `lock`.
    private var queue: [PendingRequest] = []
    private var threadIsSleeping = false
    private var isClosing = false

    /// Requests queued or in flight; the pool sends new work to the least busy connection.
    let outstanding = Atomic<Int>(0)
    /// Non-zero while `queue` may be non-empty, so the spinning thread can notice new work
    /// without taking the lock.
    private let workHint = Atomic<Int>(0)
    /// Mirrors `isClosing` for reads without the lock (between poll() slices).
    private let closingFlag = Atomic<Bool>(false)

    // Owned by the connection thread.
    private var context: HiredisContext?
    private var backoff = ReconnectBackoff()
    private var nextAttemptAt: UInt64 = 0
    private var lastFailure = ""
    private var hasConnectedBefore = false
    /// The resolver's epoch when `context` was opened.
    private var connectedEpoch = 0
    /// Set while reading a batch's replies when one of them says the server is no longer a
    /// usable master; the context is dropped once the batch is answered.
    private var sawFailoverReply: String?

    private var thread: ConnectionThread?

    /// Creates the connection and starts its thread. Connecting happens on first use.
    init(options: ConnectionOptions, resolver: MasterResolver, logger: Logger) {
        self.options = options
        self.resolver = resolver
        var logger = logger
        logger[metadataKey: "redis.connection"] = "\(options.name)"
        if !resolver.usesSentinel { logger[metadataKey: "redis.address"] = "\(options.address)" }
        self.logger = logger
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        wakeup = .allocate(capacity: 1)
        pthread_cond_init(wakeup, nil)
        queue.reserveCapacity(128)
        thread = ConnectionThread(name: options.name) { [self] in self.threadMain() }
    }

    deinit {
        pthread_cond_destroy(wakeup)
        wakeup.deallocate()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// The thread, for joining after ``close()``.
    var connectionThread: ConnectionThread { thread! }

    /// Queues a request; it is resumed later by the connection thread (or right away with
    /// ``RedisError/Code/poolShutdown`` once the connection is closing).
    @inline(__always)
    func enqueue(_ request: PendingRequest) {
        outstanding.add(1, ordering: .relaxed)
        pthread_mutex_lock(lock)
        if isClosing {
            pthread_mutex_unlock(lock)
            outstanding.subtract(1, ordering: .relaxed)
            request.fail(RedisError(.poolShutdown, "the Redis client was shut down"))
            return
        }
        queue.append(request)
        workHint.store(1, ordering: .releasing)
        let mustSignal = threadIsSleeping
        threadIsSleeping = false
        pthread_mutex_unlock(lock)
        if mustSignal { pthread_cond_signal(wakeup) }
    }

    /// Stops accepting requests. Requests already queued are still served (or failed fast if
    /// Redis is unreachable); a blocking read in progress is abandoned within one poll slice.
    /// The thread then closes the socket and ends.
    func close() {
        pthread_mutex_lock(lock)
        isClosing = true
        closingFlag.store(true, ordering: .releasing)
        pthread_mutex_unlock(lock)
        pthread_cond_signal(wakeup)
    }

    // MARK: - Connection thread

    private func threadMain() {
        var batch: [PendingRequest] = []
        batch.reserveCapacity(128)
        while true {
            if options.idleSpinNanoseconds > 0 { spinForWork() }
            pthread_mutex_lock(lock)
            var idleCheck = false
            while queue.isEmpty && !isClosing {
                threadIsSleeping = true
                if resolver.usesSentinel {
                    // Wake twice a second while idle so a connection left on a master that moved
                    // is closed even when no command comes (an operator checks CLIENT LIST there).
                    var deadline = timespec()
                    clock_gettime(CLOCK_REALTIME, &deadline)
                    deadline.tv_nsec += 500_000_000
                    if deadline.tv_nsec >= 1_000_000_000 {
                        deadline.tv_sec += 1
                        deadline.tv_nsec -= 1_000_000_000
                    }
                    if pthread_cond_timedwait(wakeup, lock, &deadline) == ETIMEDOUT {
                        idleCheck = true
                        break
                    }
                } else {
                    pthread_cond_wait(wakeup, lock)
                }
            }
            threadIsSleeping = false
            if idleCheck && queue.isEmpty && !isClosing {
                pthread_mutex_unlock(lock)
                if context != nil && connectedEpoch != resolver.epoch {
                    context = nil
                    logger.info("Dropping an idle Redis connection opened before the master moved")
                }
                continue
            }
            if queue.isEmpty {
                // Closing and drained.
                pthread_mutex_unlock(lock)
                break
            }
            swap(&batch, &queue)
            workHint.store(0, ordering: .relaxed)
            pthread_mutex_unlock(lock)

            process(batch)
            batch.removeAll(keepingCapacity: true)
        }
        if context != nil {
            context = nil  // redisFree closes the socket
            logger.debug("Redis connection closed")
        }
    }

    /// Busy-waits briefly for new work so a caller that sends again right away does not pay
    /// for a sleep and a futex wake-up. Bounded, so an idle connection costs no CPU.
    private func spinForWork() {
        if workHint.load(ordering: .acquiring) != 0 { return }
        let until = Monotonic.now() &+ options.idleSpinNanoseconds
        var rounds = 0
        while workHint.load(ordering: .acquiring) == 0 && !closingFlag.load(ordering: .relaxed) {
            rounds &+= 1
            if rounds & 63 == 0 {
                if Monotonic.now() >= until { return }
                // Let a caller waiting for this core run: on 2 cores the thread we are
                // waiting for may be queued behind us.
                sched_yield()
            }
        }
    }

    private func process(_ batch: [PendingRequest]) {
        if context != nil && resolver.usesSentinel && connectedEpoch != resolver.epoch {
            // Another connection saw the master move (or suspected it): this one may still be
            // talking to the old master, so it re-resolves before sending anything.
            context = nil
            logger.info("Dropping a Redis connection opened before the master moved")
        }
        guard let context = connectIfNeeded(failing: batch) else { return }

        var written = 0  // requests whose bytes went into the output buffer, in batch order
        var skipped: [Int] = []
        do {
            for (index, request) in batch.enumerated() {
                if let flag = request.cancellation, flag.isSet {
                    skipped.append(index)
                    continue
                }
                try context.append(request.payload)
                written += 1
            }
            if written > 0 { try context.flush() }
        } catch {
            drop(context: error)
            fail(batch, from: 0, with: error)
            return
        }

        sawFailoverReply = nil
        var skippedCursor = 0
        for index in batch.indices {
            let request = batch[index]
            if skippedCursor < skipped.count && skipped[skippedCursor] == index {
                skippedCursor += 1
                outstanding.subtract(1, ordering: .relaxed)
                request.fail(CancellationError())
                continue
            }
            let deadline = request.timeoutNanoseconds == .max ? .max : Monotonic.now() &+ request.timeoutNanoseconds
            do {
                switch request.waiter {
                case .one(let continuation):
                    let value = try readReply(context, deadline: deadline, cancellation: request.cancellation)
                    noteFailoverReply(value)
                    outstanding.subtract(1, ordering: .relaxed)
                    continuation.resume(returning: value)
                case .many(let continuation):
                    var values: [RESPValue] = []
                    values.reserveCapacity(request.replyCount)
                    for _ in 0..<request.replyCount {
                        let value = try readReply(context, deadline: deadline, cancellation: request.cancellation)
                        noteFailoverReply(value)
                        values.append(value)
                    }
                    outstanding.subtract(1, ordering: .relaxed)
                    continuation.resume(returning: values)
                }
            } catch {
                // The stream of replies is now out of step with the waiters (or broken): drop
                // the connection and fail this request and every later one in the batch.
                drop(context: error)
                fail(batch, from: index, with: error, skipping: Array(skipped[skippedCursor...]))
                return
            }
        }
        if let reply = sawFailoverReply {
            sawFailoverReply = nil
            self.context = nil
            logger.warning("Redis answered as a server that is not a usable master; re-resolving", metadata: ["redis.reply": "\(reply)"])
            resolver.invalidate(seen: connectedEpoch, reason: reply)
        }
    }

    /// Remembers a `READONLY`/`NOREPLICAS`/`LOADING`/`UNBLOCKED`/`MASTERDOWN` reply (Sentinel
    /// mode only): the rest of the batch is still read, then the connection is dropped.
    @inline(__always)
    private func noteFailoverReply(_ value: RESPValue) {
        guard case .error(let message) = value, resolver.usesSentinel, MasterResolver.isFailoverReply(message) else { return }
        if sawFailoverReply == nil { sawFailoverReply = String(message.prefix(80)) }
    }

    @inline(__always)
    private func readReply(_ context: HiredisContext, deadline: UInt64, cancellation: CancellationFlag?) throws -> RESPValue {
        try context.readReply(deadline: deadline, spinNanoseconds: options.replySpinNanoseconds) {
            if let cancellation, cancellation.isSet { return CancellationError() }
            if closingFlag.load(ordering: .acquiring) {
                return RedisError(.poolShutdown, "the Redis client was shut down while waiting for a reply from \(options.address)")
            }
            if options.dedicated && resolver.usesSentinel && resolver.epoch != connectedEpoch {
                // A long BLOCK must not keep waiting on a server that may no longer be the master.
                return RedisError(.connectionClosed, "the Redis master moved while a blocking command waited")
            }
            return nil
        }
    }

    private func fail(_ batch: [PendingRequest], from start: Int, with error: any Error, skipping skipped: [Int] = []) {
        for index in start..<batch.count {
            outstanding.subtract(1, ordering: .relaxed)
            batch[index].fail(skipped.contains(index) ? CancellationError() : error)
        }
    }

    /// Returns the live context, connecting first if needed. While a reconnect backoff is
    /// running, fails the batch at once with `connectionFailed` rather than making callers
    /// wait for a server that just refused us.
    private func connectIfNeeded(failing batch: [PendingRequest]) -> HiredisContext? {
        if let context { return context }
        let now = Monotonic.now()
        if now < nextAttemptAt {
            let waitMs = (nextAttemptAt - now) / 1_000_000
            fail(batch, from: 0, with: RedisError(.connectionFailed, "\(lastFailure) (next attempt in \(waitMs) ms)"))
            return nil
        }
        if backoff.failures > 0 || hasConnectedBefore {
            logger.warning("Reconnecting to Redis", metadata: ["redis.attempt": "\(backoff.failures + 1)"])
        }
        do {
            let (context, epoch) = try resolver.connect(options: options) { closingFlag.load(ordering: .acquiring) }
            connectedEpoch = epoch
            if resolver.usesSentinel {
                logger.info(
                    hasConnectedBefore || backoff.failures > 0 ? "Reconnected to Redis" : "Connected to Redis",
                    metadata: ["redis.master": "\(context.address)"]
                )
            } else {
                logger.info(hasConnectedBefore || backoff.failures > 0 ? "Reconnected to Redis" : "Connected to Redis")
            }
            hasConnectedBefore = true
            backoff.reset()
            nextAttemptAt = 0
            self.context = context
            return context
        } catch {
            let delay = backoff.nextDelay()
            nextAttemptAt = now &+ delay
            lastFailure = error.message
            logger.warning(
                "Could not connect to Redis",
                metadata: ["error": "\(error.message)", "redis.retry_in_ms": "\(delay / 1_000_000)"]
            )
            fail(batch, from: 0, with: error)
            return nil
        }
    }

    /// Forgets a broken context; the next request reconnects (a fresh attempt at once, then
    /// backoff if that fails too).
    private func drop(context error: any Error) {
        context = nil
        if let error = error as? RedisError, error.code == .connectionClosed || error.code == .timeout || error.code == .protocolError {
            // I/O trouble may mean the master died: make every connection re-resolve.
            resolver.invalidate(seen: connectedEpoch, reason: error.message)
        }
        if error is CancellationError {
            logger.debug("Blocking command cancelled; connection dropped")
        } else if let error = error as? RedisError, error.code == .poolShutdown {
            logger.debug("Connection closed during shutdown")
        } else {
            logger.warning("Redis connection lost", metadata: ["error": "\(error)"])
        }
    }
}
