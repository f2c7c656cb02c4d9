import Foundation
import Logging
import PostgresNIO
import Synchronization
import TackCore
import TackRedis

/// The private PostgreSQL and Redis that `./platform test` starts, for every Swift test target: the
/// one place that finds the servers, creates and drops databases and runs clients for a test.
///
/// A missing variable is an error that fails the test, never a skip: CI must run them all.
public enum TestServers {
    /// Thrown when `./platform test` did not provide a server.
    public struct Missing: Error, CustomStringConvertible {
        /// The environment variable.
        public let name: String
        public var description: String {
            "\(name) is not set: run the tests through `./platform test`, which starts PostgreSQL and Redis "
                + "(or start them yourself and export TACK_TEST_POSTGRES_URL and TACK_TEST_REDIS_URL)"
        }
    }

    /// An environment variable `./platform test` sets.
    public static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { throw Missing(name: name) }
        return value
    }

    /// The Tack directory (holds migrations/, templates/, the config example).
    public static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// The migrations this tree ships.
    public static func migrations() throws -> [Migration] {
        try Migration.loadAll(from: root + "/migrations")
    }

    /// A configuration pointing at the test servers, with `settings` as `--set` overrides.
    public static func configuration(redisDatabase: Int = 0, settings: [String: String] = [:]) throws -> TackConfiguration {
        let postgresURL = try require("TACK_TEST_POSTGRES_URL")
        var redisURL = try require("TACK_TEST_REDIS_URL")
        if let slash = redisURL.lastIndex(of: "/"), redisURL[redisURL.index(after: slash)...].allSatisfy(\.isNumber) {
            redisURL = String(redisURL[...slash]) + String(redisDatabase)
        }
        return try ConfigLoader(
            filePath: nil,
            environment: [
                "TACK_SECRET_KEY": String(repeating: "k", count: 40),
                "TACK_DATABASE_URL": postgresURL, "TACK_REDIS_URL": redisURL,
            ],
            overrides: settings.map { "\($0.key)=\($0.value)" },
            rootDirectory: root
        ).load()
    }

    /// The test Redis as the Redis client's own configuration (for the client's tests).
    public static func redisConfiguration(poolSize: Int = 4) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: require("TACK_TEST_REDIS_URL"))
        configuration.poolSize = poolSize
        return configuration
    }

    /// Runs `body` with a database of its own (dropped afterwards, also when `body` throws) and a
    /// running client for it; `migrated` applies this tree's migrations first. Board ids start at
    /// a random point, so tests sharing one Redis never share a board's stream.
    public static func withDatabase<T: Sendable>(
        settings: [String: String] = [:],
        migrated: Bool = true,
        logger: Logger = Logger(label: "tack.test"),
        _ body: @Sendable (TackConfiguration, PostgresClient) async throws -> T
    ) async throws -> T {
        let base = try configuration(settings: settings)
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withPostgres(base.database, logger: logger) { _ = try await $0.query("CREATE DATABASE \(unescaped: String(name))") }
        var config = base
        config.database.database = String(name)
        let frozen = config
        let outcome: Result<T, any Error>
        do {
            outcome = .success(
                try await withPostgres(frozen.database, logger: logger) { postgres in
                    if migrated {
                        _ = try await Migrator(client: postgres, migrations: migrations(), logger: logger).upgrade(nodeName: "test")
                        try await postgres.query(
                            "ALTER TABLE boards ALTER COLUMN id RESTART WITH \(unescaped: String(Int64.random(in: 1_000_000...1_000_000_000_000)))"
                        )
                    }
                    return try await body(frozen, postgres)
                }
            )
        } catch {
            outcome = .failure(error)
        }
        try await withPostgres(base.database, logger: logger) {
            _ = try await $0.query("DROP DATABASE IF EXISTS \(unescaped: String(name)) WITH (FORCE)")
        }
        return try outcome.get()
    }

    /// Runs `body` with a migrated database of its own (see `withDatabase`) and a running Redis client.
    public static func withServers<T: Sendable>(
        settings: [String: String] = [:],
        logger: Logger = Logger(label: "tack.test"),
        _ body: @Sendable (TackConfiguration, PostgresClient, RedisClient) async throws -> T
    ) async throws -> T {
        try await withDatabase(settings: settings, logger: logger) { config, postgres in
            let redis = RedisClient(configuration: try Clients.redisConfiguration(config.redis), logger: logger)
            return try await withRunning(redis, run: { try await $0.run() }) { try await body(config, postgres, $0) }
        }
    }

    /// Runs `body` with a PostgreSQL client for `config`, stopped afterwards.
    public static func withPostgres<T: Sendable>(
        _ config: TackConfiguration.Database,
        logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        try await withRunning(Database.makeClient(config, logger: logger), run: { await $0.run() }, body)
    }

    /// Runs `body` while `client` runs (`run`) in a child task, then stops it by cancellation: how
    /// every test holds a client, as a service group would run it.
    public static func withRunning<S: Sendable, T: Sendable>(
        _ client: S,
        run: @escaping @Sendable (S) async throws -> Void,
        _ body: (S) async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await run(client) }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A random prefix for Redis keys or queue names, so tests sharing one Redis stay apart.
    public static func uniqueName(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.prefix(8).lowercased()
    }
}

/// Collects log records, to check what was logged (and that secrets never appear in it).
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    /// An empty capture.
    public init() {}

    /// Every record so far: level, message, metadata (and the error, if any), one line each.
    public var all: [String] { lines.withLock { $0 } }

    /// A logger at trace level that records into this capture.
    public func logger(label: String = "tack.test.capture") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(merged)" + (event.error.map { " \($0)" } ?? ""))
        }
    }
}
