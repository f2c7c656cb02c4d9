import Foundation
import Logging
import PostgresNIO
import Testing
@testable import TackCore

/// The private servers `./platform test` starts. Missing variables fail the test: never skip.
enum TestEnvironment {
    static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            Issue.record("\(name) is not set: run the tests through `./platform test`, which starts PostgreSQL and Redis")
            throw MissingServer(name: name)
        }
        return value
    }

    struct MissingServer: Error { let name: String }

    /// The Tack directory (holds migrations/ and the config example).
    static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    static let logger = Logger(label: "tack.test")

    /// A database of its own for one test, dropped afterwards.
    static func withFreshDatabase<T: Sendable>(_ body: @Sendable (PostgresClient, TackConfiguration.Database) async throws -> T) async throws -> T {
        let adminURL = try require("TACK_TEST_POSTGRES_URL")
        let admin = try databaseConfig(adminURL)
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withClient(admin) { client in
            _ = try await client.query("CREATE DATABASE \(unescaped: String(name))")
        }
        var copy = admin
        copy.database = String(name)
        let config = copy
        do {
            let result = try await withClient(config) { try await body($0, config) }
            try await withClient(admin) { client in
                _ = try await client.query("DROP DATABASE \(unescaped: String(name)) WITH (FORCE)")
            }
            return result
        } catch {
            try? await withClient(admin) { client in
                _ = try await client.query("DROP DATABASE \(unescaped: String(name)) WITH (FORCE)")
            }
            throw error
        }
    }

    static func withClient<T: Sendable>(_ config: TackConfiguration.Database, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = Database.makeClient(config, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func databaseConfig(_ url: String) throws -> TackConfiguration.Database {
        let config = try ConfigLoader(filePath: nil, environment: ["TACK_SECRET_KEY": String(repeating: "k", count: 40), "TACK_DATABASE_URL": url],
                                      rootDirectory: root).load()
        return config.database
    }
}
