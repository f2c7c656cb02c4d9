import Foundation
import Logging
import PostgresNIO
import TackCore
import TackRedis

/// The private PostgreSQL and Redis that `./platform test` starts, for test targets.
///
/// A missing variable is an error that fails the test, never a skip: CI must run them all.
public enum TestServers {
    /// Thrown when `./platform test` did not provide a server.
    public struct Missing: Error, CustomStringConvertible {
        /// The environment variable.
        public let name: String
        public var description: String { "\(name) is not set: run the tests through `./platform test`, which starts PostgreSQL and Redis" }
    }

    /// An environment variable `./platform test` sets.
    public static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { throw Missing(name: name) }
        return value
    }

    /// The Tack directory (holds migrations/).
    public static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// A configuration pointing at the test servers, with `settings` as `--set` overrides.
    public static func configuration(redisDatabase: Int = 0, settings: [String: String] = [:]) throws -> TackConfiguration {
        let postgresURL = try require("TACK_TEST_POSTGRES_URL")
        var redisURL = try require("TACK_TEST_REDIS_URL")
        if let slash = redisURL.lastIndex(of: "/"), redisURL[redisURL.index(after: slash)...].allSatisfy(\.isNumber) {
            redisURL = String(redisURL[...slash]) + String(redisDatabase)
        }
        return try ConfigLoader(filePath: nil, environment: ["TACK_SECRET_KEY": String(repeating: "k", count: 40),
                                                             "TACK_DATABASE_URL": postgresURL, "TACK_REDIS_URL": redisURL],
                                overrides: settings.map { "\($0.key)=\($0.value)" }, rootDirectory: root).load()
    }

    /// Runs `body` with a migrated database of its own (dropped afterwards) and a running Redis
    /// client. Board ids start at a random point so tests sharing one Redis never share a stream.
    public static func withServers<T: Sendable>(
        settings: [String: String] = [:], logger: Logger = Logger(label: "tack.test"),
        _ body: @Sendable (TackConfiguration, PostgresClient, RedisClient) async throws -> T
    ) async throws -> T {
        let base = try configuration(settings: settings)
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withPostgres(base.database, logger: logger) { _ = try await $0.query("CREATE DATABASE \(unescaped: String(name))") }
        var config = base
        config.database.database = String(name)
        let frozen = config
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await withPostgres(frozen.database, logger: logger) { postgres in
                let migrations = try Migration.loadAll(from: root + "/migrations")
                _ = try await Migrator(client: postgres, migrations: migrations, logger: logger).upgrade(nodeName: "test")
                try await postgres.query("ALTER TABLE boards ALTER COLUMN id RESTART WITH \(unescaped: String(Int64.random(in: 1_000_000...1_000_000_000_000)))")
                let redis = RedisClient(configuration: try Clients.redisConfiguration(frozen.redis), logger: logger)
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await redis.run() }
                    defer { group.cancelAll() }
                    return try await body(frozen, postgres, redis)
                }
            })
        } catch {
            outcome = .failure(error)
        }
        try await withPostgres(base.database, logger: logger) { _ = try await $0.query("DROP DATABASE \(unescaped: String(name)) WITH (FORCE)") }
        return try outcome.get()
    }

    /// Runs `body` with a PostgreSQL client for `config`, stopped afterwards.
    public static func withPostgres<T: Sendable>(_ config: TackConfiguration.Database, logger: Logger,
                                                 _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = Database.makeClient(config, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A random prefix for Redis keys or queue names, so tests sharing one Redis stay apart.
    public static func uniqueName(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.prefix(8).lowercased()
    }
}
