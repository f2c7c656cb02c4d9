import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle
import Synchronization

/// How a web process stops without failing a request that a proxy sends it.
///
/// A proxy keeps idle connections to the process open for its next requests (nginx's upstream
/// `keepalive`). When a stopping server closes one of them just as the proxy sends a request on it,
/// nginx answers 502 and, for a POST, does not try another process. So a stopping web process
/// drains first: it stops accepting connections (the proxy takes another process for new ones),
/// keeps serving the ones it has, answering each request with `Connection: close` so the proxy
/// closes every connection it uses, while the proxy closes the idle ones when its keep-alive
/// timeout passes. Once no connection is open, or when `web.drain_seconds` have passed, the
/// connections left are told to close once their request is answered, and the process stops.
final class WebDrain: Sendable {
    private let draining = Atomic<Bool>(false)
    private let listener = Mutex<(any Channel)?>(nil)
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    var isDraining: Bool { draining.load(ordering: .relaxed) }
    /// Connections open now.
    var openConnections: Int { connections.withLock { $0.count } }

    func listening(on channel: any Channel) { listener.withLock { $0 = channel } }
    func opened(_ channel: any Channel) { connections.withLock { $0[ObjectIdentifier(channel)] = channel } }
    func closed(_ channel: any Channel) { connections.withLock { $0[ObjectIdentifier(channel)] = nil } }

    /// Drains: returns once every connection has closed, or when `window` has passed, having then
    /// told the connections left to close once their request is answered.
    func drain(within window: Duration) async {
        draining.store(true, ordering: .relaxed)
        try? await listener.withLock { $0 }?.close()
        let deadline = ContinuousClock.now + window
        while openConnections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for channel in connections.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// The channel handler that keeps a connection on the list and, while draining, marks its
    /// responses `Connection: close`.
    func handler() -> any RemovableChannelHandler { DrainHandler(drain: self) }
}

/// Lists its connection (from `handlerAdded` to `handlerRemoved`, which the pipeline calls when
/// the connection closes) and adds `Connection: close` to response heads while the process drains.
final class DrainHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let drain: WebDrain

    init(drain: WebDrain) { self.drain = drain }

    func handlerAdded(context: ChannelHandlerContext) { drain.opened(context.channel) }
    func handlerRemoved(context: ChannelHandlerContext) { drain.closed(context.channel) }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard drain.isDraining, case .head(var head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}

/// Runs the web application and, on graceful shutdown, drains it (`WebDrain`). The application
/// runs in a detached task, which does not inherit the process's graceful shutdown (a task local),
/// so it does not stop at once: it ends by itself once its listener is closed and its last
/// connection has closed. Cancellation (the process's shutdown bound) still reaches it.
struct DrainingWebService<App: Service>: Service {
    let app: App
    let drain: WebDrain
    let window: Duration
    let logger: Logger

    func run() async throws {
        let application = Task.detached { [app] in try await app.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [drain, window, logger] in
                // Cancelled when the application ends by itself.
                try await gracefulShutdown()
                logger.info(
                    "draining: answering with Connection: close until no connection is open",
                    metadata: ["tack.open_connections": "\(drain.openConnections)", "tack.drain_seconds": "\(window)"]
                )
                await drain.drain(within: window)
            }
            do {
                try await withTaskCancellationHandler {
                    try await application.value
                } onCancel: {
                    application.cancel()
                }
            } catch is ServiceGroupError where drain.isDraining {
                // The application's own service group calls its server's end unexpected; here it
                // is the end of the drain (the listener closed, the last connection gone).
            }
            group.cancelAll()
        }
    }
}
