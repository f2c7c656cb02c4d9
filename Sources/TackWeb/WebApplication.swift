import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
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
    /// Password hashing (bcrypt cost 12; tests pass a cheaper one).
    public var passwordHasher: PasswordHasher
    /// Where this process's metrics are collected for `/metrics` (the executable bootstraps
    /// swift-metrics with a Prometheus factory on the same registry).
    public var metrics: PrometheusCollectorRegistry

    /// Groups the dependencies.
    public init(
        config: TackConfiguration,
        postgres: PostgresClient,
        redis: RedisClient,
        migrations: [Migration],
        passwordHasher: PasswordHasher = PasswordHasher(),
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.config = config
        self.postgres = postgres
        self.redis = redis
        self.migrations = migrations
        self.passwordHasher = passwordHasher
        self.metrics = metrics
    }
}

/// The web role's router: health, assets, the API under `/api/v1`, then the pages. Shared by `run web`
/// and the tests. Throws when the page templates are missing or do not parse.
public func buildWebRouter(_ deps: WebDependencies, logger: Logger) throws -> Router<TackRequestContext> {
    let router = Router(context: TackRequestContext.self)
    router.add(middleware: ErrorMiddleware(logger: logger))
    router.add(middleware: SecurityHeadersMiddleware())
    // Requests by route and status, and their latency, for every route added below.
    router.add(middleware: MetricsMiddleware())
    // Inside the metrics too, so they count every error under the status it is answered with (a
    // domain error such as BoardError is not an HTTP error until this middleware maps it; counted
    // before that, a 404 or 409 showed as 500). The outer one maps errors of the middlewares above.
    router.add(middleware: ErrorMiddleware(logger: logger))
    // Control characters in paths (400) and 405 with Allow for a known path's other methods.
    let routeTable = RouteTable()
    router.add(middleware: RouteGuardMiddleware(table: routeTable))
    router.add(
        middleware: AssetsMiddleware(publicDirectory: (deps.config.rootDirectory as NSString).appendingPathComponent("public"), logger: logger)
    )
    HealthController(deps: deps, logger: logger).addRoutes(to: router)
    OpenAPIController(deps: deps, logger: logger).addRoutes(to: router.group("/api/v1"))
    // The pools: sizes, and use (PostgreSQL's gauges come from the pool itself, see
    // `Database.makeClient`; Redis's are read at each scrape).
    func gauge(_ subsystem: String, _ metric: String, _ unit: String, _ help: String) -> Gauge {
        deps.metrics.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "tack", subsystem: subsystem, metricName: metric, unitName: unit, helpText: help)
        )
    }
    gauge("postgres", "pool", "size", "PostgreSQL connections this process may open").set(Int64(deps.config.database.poolSize))
    gauge("redis", "pool", "size", "Redis pipelining connections of this process").set(Int64(deps.redis.configuration.poolSize))
    let redisBusy = gauge("redis", "connections", "busy", "Redis pool connections with requests outstanding")
    let redisOutstanding = gauge("redis", "requests", "outstanding", "Redis requests queued or awaiting their reply")
    router.get("/metrics") { _, _ in
        let use = deps.redis.poolUse
        redisBusy.set(Int64(use.busyConnections))
        redisOutstanding.set(Int64(use.outstandingRequests))
        return MetricsResponse(registry: deps.metrics)
    }
    // Accounts: the authentication middleware first (every later route sees `context.caller`), then /api/v1 accounts.
    let accounts = AccountController(deps: deps, logger: logger)
    router.add(middleware: accounts.authMiddleware)
    accounts.addRoutes(to: router.group("/api/v1"))
    let events = EventLog(postgres: deps.postgres, logger: logger)
    let publisher = EventPublisher(redis: deps.redis, log: events, historySize: deps.config.events.historySize, logger: logger)
    let boards = BoardStore(postgres: deps.postgres, publisher: publisher, logger: logger)
    BoardController(store: boards, events: events, snapshots: SnapshotCache<ByteBuffer>()).addRoutes(to: router.group("/api/v1"))
    WebhookController(
        store: WebhookStore(postgres: deps.postgres, logger: logger),
        boards: boards,
        allowPrivateTargets: deps.config.webhooks.allowPrivateTargets
    ).addRoutes(to: router.group("/api/v1"))
    NotificationController(repository: NotificationRepository(postgres: deps.postgres, logger: logger)).addRoutes(to: router.group("/api/v1"))
    ExportController(
        store: ExportStore(postgres: deps.postgres, storageDirectory: deps.config.node.storageDirectory, logger: logger),
        boards: boards,
        queue: JobQueue(redis: deps.redis, routes: deps.config.queues, logger: logger),
        ttl: deps.config.exports.ttl
    )
    .addRoutes(to: router.group("/api/v1"))
    try PageController(deps: deps, store: boards, logger: logger).addRoutes(to: router)
    routeTable.load(router.routes)
    return router
}

/// Builds the web application for `run web` and for tests. The clients are run by the caller.
public func buildWebApplication(_ deps: WebDependencies, port: Int? = nil, logger: Logger) throws -> some ApplicationProtocol {
    Application(
        router: try buildWebRouter(deps, logger: logger),
        configuration: .init(address: .hostname(deps.config.web.host, port: port ?? deps.config.web.port), serverName: "Tack"),
        logger: logger
    )
}
