import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the Redis master is, shared by every connection of one ``RedisClient`` (pooled,
/// blocking and subscribers), and the one place that opens connections to it.
///
/// Without Sentinel it connects to the configured `host:port`, as always. With Sentinel every
/// connect follows the Sentinel client protocol: ask the sentinels in order (short timeout
/// each) for `SENTINEL get-master-addr-by-name`, move the one that answered to the head, connect
/// to the address, pipeline `AUTH`/`SELECT`/`CLIENT SETNAME`/`ROLE`, and use the connection only
/// when `ROLE` says `master`; otherwise wait 250 ms and start over, until the failover timeout.
///
/// The *epoch* counts suspicions that the master moved: a connection that saw `READONLY`,
/// `NOREPLICAS`, `LOADING`, `UNBLOCKED`, `MASTERDOWN` or an I/O error bumps it, and so does a
/// connect that found the master at a new address. Every connection remembers the epoch it was
/// opened in and drops itself before its next batch (blocking and subscriber connections also
/// while they wait) when the epoch moved on, so no connection stays on an old primary.
///
/// `connect` blocks: call it only on a connection's own thread.
final class MasterResolver: Sendable {
    /// How long to sleep between attempts while no master is found.
    static let retryDelayNanoseconds: UInt64 = 250_000_000

    private let sentinel: RedisSentinelConfiguration?
    private let host: String
    private let port: Int
    private let logger: Logger
    /// Sentinels in the order to ask them, and the master the last successful connect found.
    private let state: Mutex<(sentinels: [RedisSentinelConfiguration.Endpoint], master: RedisSentinelConfiguration.Endpoint?)>
    private let epochCounter = Atomic<Int>(0)

    /// Creates the resolver for a client's configuration.
    init(configuration: RedisConfiguration, logger: Logger) {
        sentinel = configuration.sentinel
        host = configuration.host
        port = configuration.port
        self.logger = logger
        state = Mutex((configuration.sentinel?.sentinels ?? [], nil))
    }

    /// Whether the master is found through Sentinel (and epochs are in use).
    var usesSentinel: Bool { sentinel != nil }

    /// The current epoch; connections opened in an older one must be dropped.
    var epoch: Int { epochCounter.load(ordering: .acquiring) }

    /// The master the last successful connect used, `host:port` (for `status` and logs).
    var currentMaster: String? {
        if sentinel == nil { return RedisSentinelConfiguration.Endpoint(host: host, port: port).description }
        return state.withLock { $0.master?.description }
    }

    /// The sentinels in the order they are asked now.
    var sentinelOrder: [RedisSentinelConfiguration.Endpoint] { state.withLock { $0.sentinels } }

    /// Records that a connection opened in epoch `seen` hit an error suggesting the master moved.
    /// Only the first report for an epoch bumps it, so a burst of failing connections causes
    /// one round of reconnects, not one per connection.
    func invalidate(seen: Int, reason: String) {
        guard sentinel != nil else { return }
        if epochCounter.compareExchange(expected: seen, desired: seen + 1, ordering: .acquiringAndReleasing).exchanged {
            logger.warning(
                "Redis master may have moved; every connection re-resolves it through the sentinels",
                metadata: ["redis.reason": "\(reason)", "redis.epoch": "\(seen + 1)"]
            )
        }
    }

    /// Whether an error reply means this server cannot serve writes any more (a demoted master,
    /// a replica loading, a master without enough replicas): the connection must be dropped and
    /// the master re-resolved.
    static func isFailoverReply(_ message: String) -> Bool {
        message.hasPrefix("READONLY") || message.hasPrefix("NOREPLICAS") || message.hasPrefix("LOADING")
            || message.hasPrefix("UNBLOCKED") || message.hasPrefix("MASTERDOWN")
    }

    /// Opens a connection to the master with the connection's options and returns it with the
    /// epoch it belongs to.
    ///
    /// - Parameter shouldAbort: asked between attempts (every ~250 ms); returning `true` stops
    ///   with ``RedisError/Code/poolShutdown`` (the client or subscriber is closing).
    /// - Throws: ``RedisError`` with `connectionFailed` (no Sentinel, or the master refused),
    ///   `sentinelsUnreachable`, `unknownMasterName` or `noMaster` once the failover timeout
    ///   has passed.
    func connect(options: ConnectionOptions, shouldAbort: () -> Bool) throws(RedisError) -> (HiredisContext, Int) {
        guard let sentinel else {
            let context = try HiredisContext.connect(
                host: host,
                port: port,
                password: options.password,
                database: options.database,
                connectTimeoutMs: options.connectTimeoutMilliseconds,
                socketTimeoutMs: options.socketTimeoutMilliseconds,
                keepAlive: options.keepAlive
            )
            // Without Sentinel the connect prelude stays as it always was (AUTH, SELECT): no
            // CLIENT SETNAME, whose reply would change how an unauthenticated or silent server fails.
            return (context, epoch)
        }
        let deadline = Monotonic.now() &+ Monotonic.nanoseconds(sentinel.failoverTimeout)
        var attempts = 0
        while true {
            attempts += 1
            let lastError: RedisError
            do {
                let master = try resolve(sentinel)
                let context = try HiredisContext.connect(
                    host: master.host,
                    port: master.port,
                    password: options.password,
                    database: options.database,
                    connectTimeoutMs: options.connectTimeoutMilliseconds,
                    socketTimeoutMs: options.socketTimeoutMilliseconds,
                    keepAlive: options.keepAlive,
                    clientName: options.name,
                    checkRole: true
                )
                let previous = state.withLock { state -> RedisSentinelConfiguration.Endpoint? in
                    defer { state.master = master }
                    return state.master
                }
                if let previous, previous != master {
                    // Connections still open to the old address belong to an older epoch now.
                    epochCounter.add(1, ordering: .acquiringAndReleasing)
                    logger.warning(
                        "Redis master moved; connections to the old master are dropped",
                        metadata: ["redis.old_master": "\(previous)", "redis.master": "\(master)", "redis.epoch": "\(epoch)"]
                    )
                } else if previous == nil {
                    logger.info("Redis master found through Sentinel", metadata: ["redis.master": "\(master)"])
                }
                return (context, epoch)
            } catch {
                lastError = error
            }
            let now = Monotonic.now()
            if now >= deadline {
                throw RedisError(
                    lastError.code,
                    "\(lastError.message) (gave up after \(attempts) attempts in the failover timeout of \(sentinel.failoverTimeout))"
                )
            }
            if attempts == 1 || attempts % 8 == 0 {
                logger.warning("No Redis master yet; re-resolving through the sentinels", metadata: ["error": "\(lastError.message)"])
            }
            // Sleep in short slices so a shutdown is noticed promptly.
            let wakeAt = min(deadline, now &+ Self.retryDelayNanoseconds)
            while Monotonic.now() < wakeAt {
                if shouldAbort() { throw RedisError(.poolShutdown, "the Redis client was shut down while looking for the master") }
                usleep(25_000)
            }
            if shouldAbort() { throw RedisError(.poolShutdown, "the Redis client was shut down while looking for the master") }
        }
    }

    /// Sends one command to the first sentinel that answers (in the current order) and returns
    /// that sentinel and its reply. Blocking: call it on a thread of its own.
    func askSentinels(_ command: [String]) throws(RedisError) -> (RedisSentinelConfiguration.Endpoint, RESPValue) {
        guard let sentinel else { throw RedisError(.sentinelsUnreachable, "no sentinels are configured") }
        let timeoutMs = max(1, Monotonic.milliseconds(sentinel.sentinelTimeout))
        var failures: [String] = []
        for endpoint in state.withLock({ $0.sentinels }) {
            do {
                let context = try Self.connect(to: endpoint, sentinel, timeoutMs: timeoutMs)
                let reply = try context.roundTrip(command, deadline: Monotonic.now() &+ UInt64(timeoutMs) * 1_000_000)
                return (endpoint, reply)
            } catch let error as RedisError {
                failures.append("\(endpoint): \(error.message)")
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        throw RedisError(.sentinelsUnreachable, "no sentinel reachable (\(failures.joined(separator: "; ")))")
    }

    /// A connection to one sentinel, with the sentinels' password and short timeouts.
    private static func connect(
        to endpoint: RedisSentinelConfiguration.Endpoint,
        _ sentinel: RedisSentinelConfiguration,
        timeoutMs: Int
    ) throws(RedisError) -> HiredisContext {
        try HiredisContext.connect(
            host: endpoint.host,
            port: endpoint.port,
            password: sentinel.password,
            database: 0,
            connectTimeoutMs: timeoutMs,
            socketTimeoutMs: timeoutMs
        )
    }

    /// Asks the sentinels, in order, where the master is; the one that answered moves to the
    /// head of the list.
    private func resolve(_ sentinel: RedisSentinelConfiguration) throws(RedisError) -> RedisSentinelConfiguration.Endpoint {
        let order = state.withLock { $0.sentinels }
        let timeoutMs = max(1, Monotonic.milliseconds(sentinel.sentinelTimeout))
        var unreachable: [String] = []
        var unknown: [String] = []
        for endpoint in order {
            let reply: RESPValue
            do {
                let context = try Self.connect(to: endpoint, sentinel, timeoutMs: timeoutMs)
                reply = try context.roundTrip(
                    ["SENTINEL", "get-master-addr-by-name", sentinel.masterName],
                    deadline: Monotonic.now() &+ UInt64(timeoutMs) * 1_000_000
                )
            } catch let error as RedisError {
                unreachable.append("\(endpoint): \(error.message)")
                continue
            } catch {
                unreachable.append("\(endpoint): \(error)")
                continue
            }
            switch reply {
            case .array(let parts) where parts.count == 2:
                guard let host = parts[0].string, let port = parts[1].int else {
                    unreachable.append("\(endpoint): unexpected reply \(reply)")
                    continue
                }
                let master = RedisSentinelConfiguration.Endpoint(host: host, port: port)
                if order.first != endpoint {
                    state.withLock { state in
                        state.sentinels.removeAll { $0 == endpoint }
                        state.sentinels.insert(endpoint, at: 0)
                    }
                }
                return master
            case .null:
                unknown.append("\(endpoint)")
            case .error(let message):
                unreachable.append("\(endpoint) answered \(message)")
            default:
                unreachable.append("\(endpoint): unexpected reply \(reply)")
            }
        }
        if !unknown.isEmpty {
            throw RedisError(
                .unknownMasterName,
                "no sentinel knows a master named '\(sentinel.masterName)' (asked \(unknown.joined(separator: ", ")))"
                    + (unreachable.isEmpty ? "" : "; others failed: \(unreachable.joined(separator: "; "))")
                    + "; check redis.master_name against the sentinels' `sentinel monitor` line"
            )
        }
        throw RedisError(.sentinelsUnreachable, "no sentinel reachable (\(unreachable.joined(separator: "; ")))")
    }
}
