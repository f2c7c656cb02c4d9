import Foundation
import Logging
import ServiceLifecycle
import TackRedis

/// A process's entry in the node registry: joins on start, heartbeats, leaves on graceful stop.
///
/// The entry is a Redis hash that expires after `heartbeatTTL` without a heartbeat, indexed by a
/// sorted set scored by heartbeat time, so `status` sees crashed processes disappear on their own.
public final class ClusterMembership: Service, Sendable {
    /// What this process says about itself.
    public struct Identity: Sendable {
        /// Unique id: `node/role/pid`.
        public var id: String { "\(node)/\(role.rawValue)/\(pid)" }
        /// Node name.
        public var node: String
        /// Zone.
        public var zone: String
        /// Role.
        public var role: ProcessRole
        /// Process id.
        public var pid: Int32
        /// Listen address, or empty for roles that listen on nothing.
        public var listen: String
        /// Release.
        public var version: String
        /// Start time.
        public var startedAt: Date

        /// Creates an identity for this process.
        public init(
            node: String,
            zone: String,
            role: ProcessRole,
            listen: String,
            pid: Int32 = ProcessInfo.processInfo.processIdentifier,
            version: String = TackVersion.current,
            startedAt: Date = Date()
        ) {
            self.node = node
            self.zone = zone
            self.role = role
            self.pid = pid
            self.listen = listen
            self.version = version
            self.startedAt = startedAt
        }
    }

    /// HSET the entry, refresh its expiry and its index score, and drop index entries whose
    /// hash has expired, in one atomic step.
    static let heartbeatScript = RedisScript(
        """
        local now = tonumber(ARGV[1])
        local ttl = tonumber(ARGV[2])
        redis.call('HSET', KEYS[2], unpack(ARGV, 4))
        redis.call('PEXPIRE', KEYS[2], ttl)
        redis.call('ZADD', KEYS[1], now, ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
        return redis.call('ZCARD', KEYS[1])
        """
    )

    let identity: Identity
    let redis: RedisClient
    let interval: Duration
    let ttl: Duration
    let logger: Logger
    /// What the role reports with every heartbeat (the push role: its open connections).
    let load: (@Sendable () -> [(String, String)])?

    /// Creates the membership of one process; `load` adds fields to each heartbeat.
    public init(
        identity: Identity,
        redis: RedisClient,
        interval: Duration,
        ttl: Duration,
        logger: Logger,
        load: (@Sendable () -> [(String, String)])? = nil
    ) {
        self.identity = identity
        self.redis = redis
        self.interval = interval
        self.ttl = ttl
        self.logger = logger
        self.load = load
    }

    /// Heartbeats until graceful shutdown, then removes the entry.
    public func run() async throws {
        var joined = false
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await beat()
                if !joined {
                    joined = true
                    let view = try await ClusterView.read(redis: redis, heartbeatTTL: ttl)
                    let counts = ProcessRole.allCases.map { role in "\(role) \(view.processes.filter { $0.role == role.rawValue }.count)" }
                    logger.info(
                        "joined the cluster",
                        metadata: [
                            "tack.node": "\(identity.node)", "tack.process": "\(identity.id)",
                            "tack.cluster.processes": "\(view.processes.count)", "tack.cluster.roles": "\(counts.joined(separator: ", "))",
                        ]
                    )
                } else if failing {
                    logger.info("heartbeats reach Redis again", metadata: ["tack.process": "\(identity.id)"])
                }
                failing = false
            } catch {
                if !failing {
                    logger.warning("heartbeat failed; retrying", metadata: ["tack.process": "\(identity.id)", "tack.error": "\(error)"])
                }
                failing = true
            }
            try? await gracefulShutdownOrSleep(interval)
        }
        do {
            _ = try await redis.pipeline([["DEL", RedisKeys.process(identity.id)], ["ZREM", RedisKeys.processIndex, identity.id]])
            logger.info("left the cluster", metadata: ["tack.process": "\(identity.id)"])
        } catch {
            logger.warning("could not remove the registry entry; it expires on its own", metadata: ["tack.error": "\(error)"])
        }
    }

    func beat() async throws {
        let now = Int(Date().timeIntervalSince1970 * 1000)
        var args: [any RedisArgumentConvertible] = [now, ttl.wholeMilliseconds, identity.id]
        let fields: [(String, String)] =
            (load?() ?? []) + [
                ("node", identity.node), ("zone", identity.zone), ("role", identity.role.rawValue),
                ("pid", String(identity.pid)), ("listen", identity.listen), ("version", identity.version),
                ("started_at", String(Int(identity.startedAt.timeIntervalSince1970 * 1000))), ("heartbeat_at", String(now)),
            ]
        for (k, v) in fields {
            args.append(k)
            args.append(v)
        }
        _ = try await redis.evaluate(Self.heartbeatScript, keys: [RedisKeys.processIndex, RedisKeys.process(identity.id)], args: args)
    }
}

/// Sleeps for `duration`, returning early (by throwing) when graceful shutdown starts.
public func gracefulShutdownOrSleep(_ duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
