import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis client: a pool of pipelining connections, each owning one OS thread and one hiredis
/// context, run as a swift-service-lifecycle `Service` (like postgres-nio's `PostgresClient`).
///
/// Any number of tasks may call it concurrently. Each command is encoded on the caller's task and
/// queued on the least busy connection; that connection's thread writes everything queued as one
/// pipeline and resumes the callers as replies arrive, so concurrent callers share round trips
/// and no hiredis call ever runs on the cooperative pool or an event loop.
///
/// Connections are opened on first use and re-opened after failures with exponential backoff
/// (50 ms doubling to 2 s, jittered); while Redis is unreachable commands fail fast with
/// ``RedisError/Code/connectionFailed``. `AUTH` and `SELECT` are repeated on every reconnect.
///
/// Creating the first client sets `SIGPIPE` to ignored for the whole process: hiredis writes with
/// write(2), and a write to a socket Redis already closed would otherwise kill the process
/// instead of returning `EPIPE`. Servers ignore `SIGPIPE` anyway (NIO does the same).
public final class RedisClient: Service, Sendable {
    /// The settings the client was created with.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let connections: [RedisConnection]
    /// Where the master is (through Sentinel when configured); shared by every connection.
    let resolver: MasterResolver
    /// Sentinel mode: commands failing because the master moved are sent once more.
    private let retriesAfterFailover: Bool
    private let commandTimeoutNanoseconds: UInt64
    private let isShutDown = Atomic<Bool>(false)
    private let shutdownRequested = OneShotEvent()
    /// Dedicated connections and subscribers alive now, so shutdown can close them.
    private let dedicated = Mutex<(nextID: Int, entries: [Int: DedicatedResource])>((0, [:]))

    /// Something with its own thread that shutdown must close and wait for.
    struct DedicatedResource: Sendable {
        let close: @Sendable () -> Void
        let thread: ConnectionThread
    }

    /// Ignores SIGPIPE exactly once per process (a lazily initialised global runs once).
    private static let ignoreSIGPIPE: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    /// Creates the client and starts its connection threads; connections open on first use.
    ///
    /// - Parameters:
    ///   - configuration: where Redis is and how large the pool is (`poolSize` is at least 1).
    ///   - logger: used as given (its label is the caller's). Connection lifecycle is logged at
    ///     info, reconnect attempts at warning; passwords never appear.
    public init(configuration: RedisConfiguration, logger: Logger) {
        Self.ignoreSIGPIPE
        self.configuration = configuration
        var logger = logger
        if let sentinel = configuration.sentinel {
            logger[metadataKey: "redis.master_name"] = "\(sentinel.masterName)"
        } else {
            logger[metadataKey: "redis.address"] = "\(configuration.address)"
        }
        self.logger = logger
        let resolver = MasterResolver(configuration: configuration, logger: logger)
        self.resolver = resolver
        retriesAfterFailover = configuration.sentinel != nil
        commandTimeoutNanoseconds = max(1_000_000, Monotonic.nanoseconds(configuration.commandTimeout))
        connections = (0..<max(1, configuration.poolSize)).map { index in
            RedisConnection(
                options: ConnectionOptions(configuration: configuration, name: "tack-redis-\(index)", dedicated: false),
                resolver: resolver,
                logger: logger
            )
        }
    }

    deinit {
        // Dropped without shutdown: stop the threads anyway so they do not outlive the client.
        if !isShutDown.load(ordering: .acquiring) {
            for connection in connections { connection.close() }
        }
    }

    // MARK: - Service

    /// Runs until the task is cancelled, the service group shuts down gracefully, or
    /// ``shutdown()`` is called; then stops accepting commands, lets the queued ones finish,
    /// closes every connection (pooled, blocking and subscribers) and joins their threads.
    public func run() async throws {
        logger.info("Redis client started", metadata: ["redis.pool_size": "\(connections.count)"])
        await withTaskCancellationOrGracefulShutdownHandler {
            await shutdownRequested.wait()
        } onCancelOrGracefulShutdown: {
            self.shutdown()
        }
        shutdown()
        for connection in connections {
            await connection.connectionThread.join()
        }
        while let resource = takeDedicatedResource() {
            await resource.thread.join()
        }
        logger.info("Redis client stopped")
    }

    /// Stops the client without cancelling ``run()``: new commands throw
    /// ``RedisError/Code/poolShutdown``, queued ones are still answered, blocking reads and
    /// subscribers are closed. Safe to call more than once and from any thread.
    public func shutdown() {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.info("Redis client shutting down")
        for connection in connections { connection.close() }
        let resources = dedicated.withLock { Array($0.entries.values) }
        for resource in resources { resource.close() }
        shutdownRequested.signal()
    }

    private func takeDedicatedResource() -> DedicatedResource? {
        dedicated.withLock { state in
            guard let key = state.entries.keys.first else { return nil }
            return state.entries.removeValue(forKey: key)
        }
    }

    /// Registers a dedicated thread; returns `nil` (and does not register) after shutdown.
    func register(_ resource: DedicatedResource) -> Int? {
        dedicated.withLock { state -> Int? in
            // Checked under the lock so shutdown() cannot miss a resource registered concurrently.
            if isShutDown.load(ordering: .acquiring) { return nil }
            state.nextID += 1
            state.entries[state.nextID] = resource
            return state.nextID
        }
    }

    /// Forgets a dedicated resource that closed by itself.
    func unregister(_ id: Int) {
        _ = dedicated.withLock { $0.entries.removeValue(forKey: id) }
    }

    // MARK: - Commands

    /// Sends one command and returns its reply.
    ///
    /// Error replies come back as ``RESPValue/error(_:)``, not as thrown errors, because they are
    /// answers (`WRONGTYPE`, `BUSYGROUP`…) and the connection stays healthy; use
    /// `sendChecked` to have them thrown.
    ///
    /// - Throws: ``RedisError`` with `connectionFailed`, `connectionClosed`, `timeout`,
    ///   `protocolError` or `poolShutdown`.
    public func send(_ command: [any RedisArgumentConvertible]) async throws -> RESPValue {
        var encoder = RESPCommandEncoder(capacity: 64)
        encoder.appendCommand(command)
        let payload = encoder.bytes
        guard retriesAfterFailover else { return try await submit(payload) }
        // Sentinel mode: a command that failed because the master moved (an I/O error, or a
        // READONLY/NOREPLICAS/LOADING/UNBLOCKED/MASTERDOWN reply) is sent once more; the
        // connection re-resolves the master first. Tack's commands and scripts are idempotent
        // (job ids, version-checked scripts), so a command that did run before the connection
        // broke does no harm when repeated.
        let reply: RESPValue
        do {
            reply = try await submit(payload)
        } catch let error as RedisError where Self.isRetryable(error) {
            return try await submit(payload)
        }
        if case .error(let message) = reply, MasterResolver.isFailoverReply(message) {
            return try await submit(payload)
        }
        return reply
    }

    /// Errors after which a command is sent once more in Sentinel mode.
    private static func isRetryable(_ error: RedisError) -> Bool {
        error.code == .connectionClosed || error.code == .connectionFailed
    }

    /// The master the client's connections use now (`host:port`); with Sentinel, the one the
    /// last successful connect found (`nil` before any).
    public var currentMaster: String? { resolver.currentMaster }

    /// Sends one command given as separate arguments: `send("SET", key, value)`.
    public func send(_ command: any RedisArgumentConvertible...) async throws -> RESPValue {
        try await send(command)
    }

    /// Like `send` but throws ``RedisError/Code/replyError``
    /// when Redis answers with an error reply, for commands where an error is a bug.
    public func sendChecked(_ command: any RedisArgumentConvertible...) async throws -> RESPValue {
        try await sendChecked(command)
    }

    /// Array form of `sendChecked(_:)`.
    public func sendChecked(_ command: [any RedisArgumentConvertible]) async throws -> RESPValue {
        try Self.checked(try await send(command), command: command)
    }

    /// Sends several commands written together on one connection (so nothing from other callers
    /// is interleaved between them) and returns their replies in order. Error replies are values
    /// in the result. This is not a transaction: wrap the commands in MULTI/EXEC for atomicity.
    public func pipeline(_ commands: [[any RedisArgumentConvertible]]) async throws -> [RESPValue] {
        if commands.isEmpty { return [] }
        var encoder = RESPCommandEncoder(capacity: 64 * commands.count)
        for command in commands { encoder.appendCommand(command) }
        let payload = encoder.bytes
        guard retriesAfterFailover else { return try await submitPipeline(payload, count: commands.count) }
        // Sentinel mode: once more after a failover, as in `send`.
        let replies: [RESPValue]
        do {
            replies = try await submitPipeline(payload, count: commands.count)
        } catch let error as RedisError where Self.isRetryable(error) {
            return try await submitPipeline(payload, count: commands.count)
        }
        if replies.contains(where: { if case .error(let message) = $0 { return MasterResolver.isFailoverReply(message) } else { return false } }) {
            return try await submitPipeline(payload, count: commands.count)
        }
        return replies
    }

    private func submitPipeline(_ payload: [UInt8], count: Int) async throws -> [RESPValue] {
        try checkNotShutDown()
        let connection = pickConnection()
        let timeout = commandTimeoutNanoseconds
        return try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<[RESPValue], any Error>) in
            connection.enqueue(
                PendingRequest(
                    payload: payload,
                    replyCount: count,
                    waiter: .many(continuation),
                    timeoutNanoseconds: timeout,
                    cancellation: nil
                )
            )
        }
    }

    /// Runs a Lua script with `EVALSHA`, falling back to `EVAL` when Redis answers `NOSCRIPT`
    /// (after a restart or `SCRIPT FLUSH`); `EVAL` also caches the script again.
    ///
    /// - Throws: ``RedisError/Code/replyError`` when the script fails, besides connection errors.
    public func evaluate(
        _ script: RedisScript,
        keys: [any RedisArgumentConvertible],
        args: [any RedisArgumentConvertible]
    ) async throws -> RESPValue {
        var command: [any RedisArgumentConvertible] = ["EVALSHA", script.sha1, keys.count]
        command.reserveCapacity(3 + keys.count + args.count)
        command.append(contentsOf: keys)
        command.append(contentsOf: args)
        let reply = try await send(command)
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            command[0] = "EVAL"
            command[1] = script.source
            return try Self.checked(try await send(command), command: ["EVAL"])
        }
        return try Self.checked(reply, command: ["EVALSHA"])
    }

    // MARK: - Sentinel

    /// Whether the client finds its master through Redis Sentinel.
    public var usesSentinel: Bool { resolver.usesSentinel }

    /// Sends one command (e.g. `SENTINEL ckquorum tack`) to the first configured sentinel that
    /// answers, on a thread of its own, and returns that sentinel's `host:port` and its reply
    /// (error replies are values).
    ///
    /// - Throws: ``RedisError/Code/sentinelsUnreachable`` when no sentinel answers or none is configured.
    public func sendToSentinel(_ command: [String]) async throws -> (sentinel: String, reply: RESPValue) {
        let resolver = self.resolver
        let result = Mutex<Result<(String, RESPValue), RedisError>?>(nil)
        let thread = ConnectionThread(name: "tack-redis-snt") {
            do throws(RedisError) {
                let (endpoint, reply) = try resolver.askSentinels(command)
                result.withLock { $0 = .success((endpoint.description, reply)) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
        }
        await thread.join()
        guard let outcome = result.withLock({ $0 }) else { throw RedisError(.sentinelsUnreachable, "the sentinel query ended without a result") }
        let (sentinel, reply) = try outcome.get()
        return (sentinel, reply)
    }

    // MARK: - Dedicated connections

    /// Runs `body` with a connection of its own, on its own thread, for commands that block
    /// (`XREADGROUP … BLOCK`, `BLPOP`, `WAIT`). Such commands would stall every caller queued
    /// behind them on a pooled connection, and the pool's command timeout would cut them off.
    ///
    /// The connection is closed and its thread joined when `body` returns or throws. Cancelling
    /// the calling task makes a blocking command in progress return promptly (within ~100 ms)
    /// with `CancellationError`.
    ///
    /// - Throws: ``RedisError/Code/poolShutdown`` after shutdown, or whatever `body` throws.
    public func withBlockingConnection<T: Sendable>(
        _ body: (RedisBlockingConnection) async throws -> T
    ) async throws -> T {
        let connection = RedisConnection(
            options: ConnectionOptions(configuration: configuration, name: "tack-redis-blk", dedicated: true),
            resolver: resolver,
            logger: logger
        )
        guard let id = register(DedicatedResource(close: { connection.close() }, thread: connection.connectionThread)) else {
            connection.close()
            await connection.connectionThread.join()
            throw RedisError(.poolShutdown, "the Redis client was shut down")
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(RedisBlockingConnection(connection: connection)))
        } catch {
            result = .failure(error)
        }
        connection.close()
        await connection.connectionThread.join()
        unregister(id)
        return try result.get()
    }

    /// Creates a pub/sub subscriber with a connection and thread of its own. It reconnects with
    /// backoff and re-subscribes its channels after a failure; messages published while it was
    /// disconnected are lost, as always with Redis pub/sub. Close it with
    /// ``RedisSubscriber/close()`` (client shutdown closes it too).
    ///
    /// - Parameter bufferLimit: messages kept for a slow consumer before the oldest are dropped
    ///   (with a warning), so a stalled consumer cannot exhaust memory.
    public func makeSubscriber(bufferLimit: Int = 100_000) -> RedisSubscriber {
        let subscriber = RedisSubscriber(configuration: configuration, resolver: resolver, logger: logger, bufferLimit: bufferLimit)
        let core = subscriber.core
        if let id = register(DedicatedResource(close: { core.close() }, thread: core.thread)) {
            core.onClose = { [weak self] in self?.unregister(id) }
        } else {
            core.close()
        }
        return subscriber
    }

    // MARK: - Internals

    @inline(__always)
    private func checkNotShutDown() throws {
        if isShutDown.load(ordering: .relaxed) {
            throw RedisError(.poolShutdown, "the Redis client was shut down")
        }
    }

    /// Pool use right now: pooled connections with requests outstanding, and those requests (queued
    /// or awaiting their reply), for metrics.
    public var poolUse: (busyConnections: Int, outstandingRequests: Int) {
        var busy = 0
        var outstanding = 0
        for connection in connections {
            let load = connection.outstanding.load(ordering: .relaxed)
            outstanding += load
            if load > 0 { busy += 1 }
        }
        return (busy, outstanding)
    }

    /// The connection with the fewest outstanding requests, scanning from the first: an idle
    /// sequential caller keeps landing on the same (warm) thread, while concurrent callers
    /// spread over the pool as queues grow.
    @inline(__always)
    private func pickConnection() -> RedisConnection {
        var best = connections[0]
        var bestLoad = best.outstanding.load(ordering: .relaxed)
        if bestLoad == 0 { return best }
        for index in 1..<connections.count {
            let candidate = connections[index]
            let load = candidate.outstanding.load(ordering: .relaxed)
            if load < bestLoad {
                best = candidate
                bestLoad = load
                if load == 0 { break }
            }
        }
        return best
    }

    @inline(__always)
    private func submit(_ payload: [UInt8]) async throws -> RESPValue {
        try checkNotShutDown()
        let connection = pickConnection()
        let timeout = commandTimeoutNanoseconds
        return try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RESPValue, any Error>) in
            connection.enqueue(
                PendingRequest(
                    payload: payload,
                    replyCount: 1,
                    waiter: .one(continuation),
                    timeoutNanoseconds: timeout,
                    cancellation: nil
                )
            )
        }
    }

    /// Turns an error reply into a thrown ``RedisError/Code/replyError`` naming the command.
    static func checked(_ reply: RESPValue, command: [any RedisArgumentConvertible]) throws -> RESPValue {
        if case .error(let message) = reply {
            let name = command.first.map { String(decoding: $0.redisArgument, as: UTF8.self) } ?? "command"
            throw RedisError(.replyError, "\(name): \(message)")
        }
        return reply
    }
}
