import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle
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
/// and the tests. Every store and controller is built here, from `deps`, and handed what it uses;
/// no controller sees the dependencies as a whole. Throws when the page templates are missing or do
/// not parse.
public func buildWebRouter(_ deps: WebDependencies, logger: Logger) throws -> Router<TackRequestContext> {
    let config = deps.config
    let root = config.rootDirectory as NSString

    // Stores.
    let users = UserRepository(postgres: deps.postgres, hasher: deps.passwordHasher, logger: logger)
    let sessions = SessionRepository(postgres: deps.postgres, ttl: config.web.sessionTTL, logger: logger)
    let tokens = APITokenRepository(postgres: deps.postgres, logger: logger)
    let events = EventLog(postgres: deps.postgres, logger: logger)
    let publisher = EventPublisher(redis: deps.redis, log: events, historySize: config.events.historySize, logger: logger)
    let boards = BoardStore(postgres: deps.postgres, publisher: publisher, logger: logger)
    let attachmentFiles = AttachmentFiles(postgres: deps.postgres, storageDirectory: config.node.storageDirectory, logger: logger)
    let cookie = SessionCookie(secure: config.web.isHTTPS)
    let audit = AuditLog()

    let router = Router(context: TackRequestContext.self)
    // Outermost, so error answers carry the security headers too.
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: ErrorMiddleware())
    // Requests by route and status, and their latency, for every route added below. Errors are
    // counted under the status they are answered with: Tack's errors carry it (HTTPResponseError).
    router.add(middleware: MetricsMiddleware())
    // Control characters in paths (400) and 405 with Allow for a known path's other methods.
    let routeTable = RouteTable()
    router.add(middleware: RouteGuardMiddleware(table: routeTable))
    router.add(middleware: AssetsMiddleware(publicDirectory: root.appendingPathComponent("public"), logger: logger))
    HealthController(postgres: deps.postgres, redis: deps.redis, migrations: deps.migrations).addRoutes(to: router)
    OpenAPIController(rootDirectory: config.rootDirectory, logger: logger).addRoutes(to: router.group("/api/v1"))
    MetricsController(registry: deps.metrics, redis: deps.redis, postgresPoolSize: config.database.poolSize).addRoutes(to: router)
    // Every later route sees `context.caller`.
    router.add(middleware: AuthMiddleware(sessions: sessions, tokens: tokens, cookie: cookie, secret: config.secretKey, audit: audit))
    AccountController(
        users: users,
        sessions: sessions,
        tokens: tokens,
        throttle: LoginThrottle(redis: deps.redis, web: config.web, audit: audit),
        cookie: cookie,
        signupPolicy: config.web.signup,
        secretKey: config.secretKey,
        boards: boards,
        resets: PasswordResets(postgres: deps.postgres, hasher: deps.passwordHasher, secret: config.secretKey, logger: logger),
        mailEnabled: config.mail.isEnabled,
        baseURL: config.web.linkBase
    )
    .addRoutes(to: router.group("/api/v1"))
    BoardController(store: boards, events: events, snapshots: SnapshotCache<ByteBuffer>(), attachmentFiles: attachmentFiles)
        .addRoutes(to: router.group("/api/v1"))
    AttachmentController(store: boards, files: attachmentFiles, settings: config.attachments).addRoutes(to: router.group("/api/v1"))
    WebhookController(
        store: WebhookStore(postgres: deps.postgres, logger: logger),
        boards: boards,
        allowPrivateTargets: config.webhooks.allowPrivateTargets
    )
    .addRoutes(to: router.group("/api/v1"))
    NotificationController(repository: NotificationRepository(postgres: deps.postgres, logger: logger)).addRoutes(to: router.group("/api/v1"))
    ExportController(
        store: ExportStore(postgres: deps.postgres, storageDirectory: config.node.storageDirectory, logger: logger),
        boards: boards,
        queue: JobQueue(redis: deps.redis, routes: config.queues, logger: logger),
        ttl: config.exports.ttl
    )
    .addRoutes(to: router.group("/api/v1"))
    ImportController(
        store: ImportStore(postgres: deps.postgres, logger: logger),
        queue: JobQueue(redis: deps.redis, routes: config.queues, logger: logger)
    )
    .addRoutes(to: router.group("/api/v1"))
    PageController(
        templates: try PageTemplates(directory: root.appendingPathComponent("templates"), publicDirectory: root.appendingPathComponent("public")),
        store: boards,
        tokens: tokens,
        signupPolicy: config.web.signup,
        secretKey: config.secretKey,
        mailEnabled: config.mail.isEnabled
    )
    .addRoutes(to: router)
    routeTable.load(router.routes)
    return router
}

/// Builds the web role for `run web`: the application, drained before it stops (`WebDrain`).
/// The clients are run by the caller.
public func buildWebApplication(_ deps: WebDependencies, port: Int? = nil, logger: Logger) throws -> some Service {
    let drain = WebDrain()
    let app = Application(
        router: try buildWebRouter(deps, logger: logger),
        server: .http1(additionalChannelHandlers: [drain.handler()]),
        configuration: .init(address: .hostname(deps.config.web.host, port: port ?? deps.config.web.port), serverName: "Tack"),
        onServerRunning: { channel in drain.listening(on: channel) },
        logger: logger
    )
    return DrainingWebService(app: app, drain: drain, window: deps.config.web.drainWindow, logger: logger)
}
