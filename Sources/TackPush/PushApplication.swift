import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import NIOWebSocket
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization
import TackCore
import TackRedis

/// What the push role runs: the server (WebSocket at `/push/ws`, `/push/healthz`, `/push/metrics`)
/// and the board hub (Redis subscription, refills, sweeps).
public struct PushServices {
    /// Services for the role's `ServiceGroup`, in start order.
    public let services: [any Service]
    /// Heartbeat fields: open connections, for `status`.
    public let load: @Sendable () -> [(String, String)]
}

/// Builds the push role for `run push` and for tests. `registry` receives the push metrics
/// (bootstrap the metrics system with it first).
public func buildPushServices(
    config: TackConfiguration,
    postgres: PostgresClient,
    redis: RedisClient,
    registry: PrometheusCollectorRegistry,
    logger: Logger
) -> PushServices {
    let metrics = PushMetrics()
    let group = MultiThreadedEventLoopGroup.singleton
    let loopHubs = group.makeIterator().map { LoopHub(eventLoop: $0, metrics: metrics) }
    let hub = BoardHub(postgres: postgres, redis: redis, loopHubs: loopHubs, metrics: metrics, logger: logger)
    let limits = PushLimits(
        maxSubscriptions: config.push.maxSubscriptions,
        pingInterval: .nanoseconds(Int64(config.push.pingInterval.inSeconds * 1e9)),
        drainWindow: .nanoseconds(Int64(config.push.drainSeconds.inSeconds * 1e9))
    )
    let authenticator = PushAuthenticator(
        sessions: SessionRepository(postgres: postgres, ttl: config.web.sessionTTL, logger: logger),
        tokens: APITokenRepository(postgres: postgres, logger: logger),
        origin: PushAuthenticator.origin(of: config.web.baseURL)
    )
    let loops = Dictionary(uniqueKeysWithValues: loopHubs.map { (ObjectIdentifier($0.eventLoop), $0) })
    let draining = DrainFlag()

    let router = Router()
    router.get("/push/healthz") { _, _ -> String in "ok" }
    router.get("/push/metrics") { _, _ -> Response in
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
    let sse = ServerSentEvents(authenticator: authenticator, hub: hub, loopHubs: loopHubs, limits: limits, draining: draining)
    router.get("/push/sse") { request, _ -> Response in try await sse.respond(request) }
    router.get("/push/ws") { _, _ -> Response in
        PushRefusal(
            status: .badRequest,
            code: "websocket_expected",
            message: "Open /push/ws as a WebSocket (Upgrade: websocket, Sec-WebSocket-Version: 13)."
        ).response
    }

    let server = HTTPServerBuilder { responder in
        PushChildChannel(responder: responder, authenticator: authenticator, limits: limits, draining: draining, logger: logger) {
            channel,
            principal,
            handler in
            let loop = loops[ObjectIdentifier(channel.eventLoop)] ?? loopHubs[0]
            return PushConnection(principal: principal, hub: loop, boards: hub, limits: limits, transport: handler)
        }
    }
    let application = Application(
        router: router,
        server: server,
        configuration: .init(
            address: .hostname(config.push.host, port: config.push.port),
            serverName: "Tack push",
            backlog: 4096,
            availableConnectionsDelegate: MaximumAvailableConnections(config.push.maxConnections, logger: logger)
        ),
        logger: logger
    )
    let drain = PushDrain(hubs: loopHubs, metrics: metrics, window: limits.drainWindow, draining: draining)
    return PushServices(
        services: [LoopSweeps(hubs: loopHubs), hub, application, drain],
        load: { [("connections", String(metrics.openConnections))] }
    )
}

/// SIGTERM: refuse new connections, close every client with 1012 at random moments over the
/// drain window (so they do not all reconnect at once), and wait until they are gone (or the window
/// and a grace period have passed) before the server and the hub stop. It comes after the server
/// in the service list, so the service group shuts it down first.
struct PushDrain: Service {
    let hubs: [LoopHub]
    let metrics: PushMetrics
    let window: TimeAmount
    let draining: DrainFlag

    func run() async throws {
        try? await gracefulShutdown()
        draining.value.store(true, ordering: .relaxed)
        for hub in hubs { hub.eventLoop.execute { hub.drain(within: window) } }
        let deadline = ContinuousClock.now + .nanoseconds(window.nanoseconds) + .seconds(3)
        while metrics.openConnections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Set once the process is draining: handshakes are refused with 503 so clients go elsewhere.
final class DrainFlag: Sendable {
    let value = Atomic<Bool>(false)
    var isDraining: Bool { value.load(ordering: .relaxed) }
}

/// Starts and stops every loop's sweep.
struct LoopSweeps: Service {
    let hubs: [LoopHub]

    func run() async throws {
        for hub in hubs { hub.start() }
        try? await gracefulShutdown()
        for hub in hubs { hub.stop() }
    }
}

/// Why a handshake was refused: the HTTP answer.
struct PushRefusal: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    /// This process is shutting down; another one serves.
    static let draining = PushRefusal(status: .serviceUnavailable, code: "draining", message: "This push process is restarting; connect again.")

    var body: ByteBuffer {
        ByteBuffer(string: "{\"error\":{\"code\":\(StrictJSON.quote(code)),\"message\":\(StrictJSON.quote(message))}}")
    }

    var response: Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .connection: "close"], body: .init(byteBuffer: body))
    }
}

/// Handshake authentication: the session cookie with the site's `Origin`, or an API token.
struct PushAuthenticator: Sendable {
    let sessions: SessionRepository
    let tokens: APITokenRepository
    /// `scheme://host[:port]` of `web.base_url`.
    let origin: String

    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased()
        else {
            return url
        }
        let defaultPort = scheme == "https" ? 443 : 80
        return "\(scheme)://\(host)" + (components.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
    }

    /// `requireOrigin`: WebSocket handshakes with a cookie must carry the site's Origin (browsers
    /// send one; a page elsewhere must not ride the user's cookie). SSE only refuses a foreign one.
    func authenticate(
        cookie: String?,
        authorization: String?,
        origin requestOrigin: String?,
        requireOrigin: Bool
    ) async -> Result<Principal, PushRefusal> {
        if let authorization, authorization.lowercased().hasPrefix("bearer ") {
            let secret = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let found = try? await tokens.lookup(secret: secret) else {
                return .failure(PushRefusal(status: .unauthorized, code: "not_signed_in", message: "The API token is unknown or revoked."))
            }
            return .success(Principal(userID: found.user.id, name: found.user.name, credential: .token(found.token.id)))
        }
        guard let token = Self.sessionToken(cookie) else {
            return .failure(
                PushRefusal(
                    status: .unauthorized,
                    code: "not_signed_in",
                    message: "Sign in first: send the session cookie or an API token (Authorization: Bearer)."
                )
            )
        }
        if let requestOrigin {
            guard Self.origin(of: requestOrigin) == origin else {
                return .failure(
                    PushRefusal(status: .forbidden, code: "origin_forbidden", message: "This Origin may not open Tack's push connection.")
                )
            }
        } else if requireOrigin {
            return .failure(
                PushRefusal(status: .forbidden, code: "origin_forbidden", message: "A session cookie is only accepted with the site's Origin header.")
            )
        }
        guard let found = try? await sessions.lookup(token: token) else {
            return .failure(PushRefusal(status: .unauthorized, code: "not_signed_in", message: "The session has ended; sign in again."))
        }
        return .success(Principal(userID: found.user.id, name: found.user.name, credential: .session(found.session.id)))
    }

    static func sessionToken(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix("tack_session=") {
                let value = String(pair.dropFirst("tack_session=".count))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }
}

/// The push port's child channel: HTTP/1 with a WebSocket upgrade at `/push/ws` whose
/// connections are plain NIO handlers (no Task per connection); a refused handshake answers a
/// real 401/403 with a JSON body; everything else goes to the Hummingbird router.
struct PushChildChannel: ServerChildChannel, HTTPChannelHandler {
    typealias MakeConnection = @Sendable (any Channel, Principal, WebSocketPushHandler) -> PushConnection

    enum Upgrade: Sendable {
        case websocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, PushRefusal)
    }

    struct Value: ServerChildChannelValue {
        let upgrade: EventLoopFuture<Upgrade>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let authenticator: PushAuthenticator
    let limits: PushLimits
    let draining: DrainFlag
    let logger: Logger
    let makeConnection: MakeConnection

    init(
        responder: @escaping HTTPChannelHandler.Responder,
        authenticator: PushAuthenticator,
        limits: PushLimits,
        draining: DrainFlag,
        logger: Logger,
        makeConnection: @escaping MakeConnection
    ) {
        self.responder = responder
        self.authenticator = authenticator
        self.limits = limits
        self.draining = draining
        self.logger = logger
        self.makeConnection = makeConnection
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Small receive buffers: an idle connection keeps its last one (a few KiB each otherwise).
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
            try channel.syncOptions?.setOption(.writeBufferWaterMark, value: .init(low: 16 * 1024, high: 64 * 1024))
            let outcome = NIOLoopBoundBox<Result<Principal, PushRefusal>?>(nil, eventLoop: channel.eventLoop)
            let authenticator = self.authenticator
            let limits = self.limits
            let makeConnection = self.makeConnection
            let draining = self.draining
            let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                maxFrameSize: 4096,
                shouldUpgrade: { channel, head in
                    guard head.uri == "/push/ws" || head.uri.hasPrefix("/push/ws?") else {
                        outcome.value = .failure(PushRefusal(status: .notFound, code: "not_found", message: "WebSockets are served at /push/ws."))
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    if draining.isDraining {
                        outcome.value = .failure(PushRefusal.draining)
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    let cookie = head.headers["Cookie"].isEmpty ? nil : head.headers["Cookie"].joined(separator: "; ")
                    let authorization = head.headers.first(name: "Authorization")
                    let origin = head.headers.first(name: "Origin")
                    return channel.eventLoop.makeFutureWithTask {
                        await authenticator.authenticate(cookie: cookie, authorization: authorization, origin: origin, requireOrigin: true)
                    }.map { result in
                        outcome.value = result
                        if case .success = result { return HTTPHeaders() }
                        return nil
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .success(let principal)? = outcome.value else {
                            throw PushRefusal(status: .unauthorized, code: "not_signed_in", message: "")
                        }
                        let raw = RawFrameWriter()
                        try channel.pipeline.syncOperations.addHandler(raw, position: .first)
                        let handler = WebSocketPushHandler(limits: limits, raw: raw) { handler in makeConnection(channel, principal, handler) }
                        try channel.pipeline.syncOperations.addHandler(handler)
                        return Upgrade.websocket
                    }
                }
            )
            let configuration = NIOTypedHTTPServerUpgradeConfiguration<Upgrade>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if case .failure(let refusal)? = outcome.value { return Upgrade.refused(asyncChannel, refusal) }
                        return Upgrade.http(asyncChannel)
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<Upgrade>(upgradeConfiguration: configuration)
            pipeline.enablePipelining = false
            pipeline.enableErrorHandling = false
            pipeline.enableResponseHeaderValidation = false
            let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(upgrade: upgrade, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgrade.get() {
            case .websocket:
                return  // the channel lives on with its handler; nothing to await
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let refusal):
                try await http.executeThenClose { _, outbound in
                    let body = refusal.body
                    try await outbound.write(contentsOf: [
                        .head(
                            HTTPResponse(
                                status: refusal.status,
                                headerFields: [
                                    .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes), .connection: "close",
                                ]
                            )
                        ),
                        .body(body),
                        .end(nil),
                    ])
                }
            }
        } catch {
            logger.debug("push connection setup failed", metadata: ["tack.error": "\(error)"])
        }
    }
}
