import Foundation
import Logging
import PostgresNIO
import TackRedis

/// The shared clients of a process, built from the configuration.
public enum Clients {
    /// The Redis client configuration for this config.
    public static func redisConfiguration(_ config: TackConfiguration.Redis) throws -> RedisConfiguration {
        var configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(url: config.url)
        } catch {
            throw TackError(.invalidConfig, subject: "redis.url", "cannot be used: \(error)")
        }
        configuration.poolSize = config.poolSize
        configuration.connectTimeout = config.connectTimeout
        configuration.commandTimeout = config.commandTimeout
        if !config.sentinels.isEmpty {
            var endpoints: [RedisSentinelConfiguration.Endpoint] = []
            for entry in config.sentinels {
                guard let endpoint = RedisSentinelConfiguration.Endpoint(parsing: entry) else {
                    throw TackError(.invalidConfig, subject: "redis.sentinels", "\"\(entry)\" is not host:port")
                }
                endpoints.append(endpoint)
            }
            configuration.sentinel = RedisSentinelConfiguration(
                sentinels: endpoints,
                masterName: config.masterName,
                password: config.sentinelPassword.isEmpty ? nil : config.sentinelPassword,
                failoverTimeout: config.failoverTimeout,
                sentinelTimeout: min(.milliseconds(500), config.connectTimeout)
            )
        }
        return configuration
    }

    /// A Redis client for this config. Run it (`run()`) as a service.
    public static func makeRedis(_ config: TackConfiguration, logger: Logger) throws -> RedisClient {
        RedisClient(configuration: try redisConfiguration(config.redis), logger: logger)
    }

    /// Runs `body` with both clients running, then stops them. For short commands.
    public static func withClients<T: Sendable>(
        _ config: TackConfiguration,
        logger: Logger,
        _ body: @Sendable (PostgresClient, RedisClient) async throws -> T
    ) async throws -> T {
        let postgres = Database.makeClient(config.database, logger: logger)
        let redis = try makeRedis(config, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await postgres.run() }
            group.addTask { try await redis.run() }
            defer { group.cancelAll() }
            return try await body(postgres, redis)
        }
    }

    /// Checks Redis answers within the connect timeout; returns its `INFO server` and `INFO persistence` fields.
    public static func checkRedis(_ redis: RedisClient, config: TackConfiguration) async throws -> [String: String] {
        do {
            return try await withDeadline(config.redis.connectTimeout + .seconds(1)) {
                var info = try await redis.info(section: "server")
                info.merge(try await redis.info(section: "persistence")) { $1 }
                return info
            }
        } catch {
            throw TackError(
                .redisUnavailable,
                subject: "Redis at \(config.redis.displayTarget)",
                "unreachable (\(error is DeadlineExceeded ? "no answer in time" : String(describing: error))); start Redis or fix redis.url (TACK_REDIS_URL)"
            )
        }
    }

    /// Checks PostgreSQL answers within the connect timeout; returns its version.
    public static func checkPostgres(_ postgres: PostgresClient, config: TackConfiguration, logger: Logger) async throws -> String {
        do {
            return try await Database.serverVersion(postgres, timeout: config.database.connectTimeout + .seconds(1), logger: logger)
        } catch {
            throw TackError(
                .databaseUnavailable,
                subject: "PostgreSQL at \(config.database.displayTarget)",
                "unreachable (\(Database.reason(error))); start PostgreSQL or fix database.url (TACK_DATABASE_URL)"
            )
        }
    }

    /// The migrations shipped with this installation.
    public static func migrations(_ config: TackConfiguration) throws -> [Migration] {
        try Migration.loadAll(from: (config.rootDirectory as NSString).appendingPathComponent("migrations"))
    }

    /// What every `run` does before starting services: both servers answer and the schema is current.
    /// Throws the first problem as a one-line `TackError`.
    public static func preflight(_ config: TackConfiguration, logger parent: Logger) async throws {
        // The check's own clients are short-lived: their start and stop are not news.
        var quiet = parent
        quiet.logLevel = max(parent.logLevel, .warning)
        let logger = quiet
        let migrations = try migrations(config)
        try await withClients(config, logger: logger) { postgres, redis in
            _ = try await checkRedis(redis, config: config)
            _ = try await checkPostgres(postgres, config: config, logger: logger)
            try await Migrator(client: postgres, migrations: migrations, logger: logger).requireCurrent()
        }
    }
}
