import Foundation
import Hummingbird
import Logging
import PostgresNIO
import TackCore
import TackRedis

/// What the web role needs from the rest of the process.
public struct WebDependencies: Sendable {
    /// Validated configuration.
    public var config: TackConfiguration
    /// Shared PostgreSQL pool (run by the process's ServiceGroup).
    public var postgres: PostgresClient
    /// Shared Redis client (run by the process's ServiceGroup).
    public var redis: RedisClient
    /// The migrations this release ships, for `/readyz`.
    public var migrations: [Migration]

    /// Groups the dependencies.
    public init(config: TackConfiguration, postgres: PostgresClient, redis: RedisClient, migrations: [Migration]) {
        self.config = config
        self.postgres = postgres
        self.redis = redis
        self.migrations = migrations
    }
}

/// Builds the web application for `run web` and for tests. The clients are run by the caller.
public func buildWebApplication(_ deps: WebDependencies, port: Int? = nil, logger: Logger) -> some ApplicationProtocol {
    let router = Router()
    HealthController(deps: deps, logger: logger).addRoutes(to: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(deps.config.web.host, port: port ?? deps.config.web.port), serverName: "Tack"),
        logger: logger
    )
}
