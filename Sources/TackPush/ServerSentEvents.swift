import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// `GET /push/sse?board=B[&board=C]`: the same subscriptions as the WebSocket, as server-sent
/// events. Each message is `id: B:V[,C:W]` (the newest version delivered per board, which
/// `EventSource` sends back as `Last-Event-ID` when it reconnects) and `data: <the JSON message>`;
/// `: ping` comments keep proxies from timing out. The first connection may give its position
/// with `?last_event_id=B:V`.
struct ServerSentEvents: Sendable {
    let authenticator: PushAuthenticator
    let hub: BoardHub
    let loopHubs: [LoopHub]
    let limits: PushLimits
    let draining: DrainFlag

    func respond(_ request: Request) async throws -> Response {
        if draining.isDraining { return PushRefusal.draining.response }
        let principal: Principal
        switch await authenticator.authenticate(
            cookie: request.headers[.cookie],
            authorization: request.headers[.authorization],
            origin: request.headers[.origin],
            requireOrigin: false
        ) {
        case .success(let found): principal = found
        case .failure(let refusal): return refusal.response
        }
        let boards = request.uri.queryParameters.getAll("board")
        var wanted: [Int64] = []
        for text in boards {
            guard let board = Int64(text), board > 0 else {
                return PushRefusal(status: .badRequest, code: "invalid_field", message: "board must be a board id (a positive integer).").response
            }
            if !wanted.contains(board) { wanted.append(board) }
        }
        guard !wanted.isEmpty, wanted.count <= limits.maxSubscriptions else {
            return PushRefusal(
                status: .badRequest,
                code: "invalid_field",
                message: "Name 1 to \(limits.maxSubscriptions) boards: /push/sse?board=B&board=C."
            ).response
        }
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters.get("last_event_id")
        guard let positions = Self.positions(lastEventID) else {
            return PushRefusal(status: .badRequest, code: "invalid_field", message: "Last-Event-ID must look like 42:17,43:5.").response
        }
        for board in wanted {
            guard try await hub.prepare(board: board, userID: principal.userID) == .allowed else {
                return PushRefusal(status: .notFound, code: "board_not_found", message: "No board \(board), or you are not a member of it.").response
            }
        }
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(limits.queueLimit))
        let loop = loopHubs.randomElement()!
        let (hub, limits) = (self.hub, self.limits)
        let queued = SSEQueued()
        let connection = try await loop.eventLoop.submit {
            let transport = SSETransport(continuation: continuation, positions: positions, queued: queued, limit: limits.queueLimit)
            let connection = PushConnection(principal: principal, hub: loop, boards: hub, limits: limits, transport: transport)
            connection.open()
            for board in wanted { connection.subscribe(board: board, after: positions[board], afterID: nil) }
            // The response keeps both alive (the connection lets its transport go when torn down).
            return NIOLoopBound(SSEConnection(connection: connection, transport: transport), eventLoop: loop.eventLoop)
        }.get()
        continuation.onTermination = { _ in loop.eventLoop.execute { connection.value.connection.tearDown() } }
        let drainWindow = limits.drainWindow
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "close", HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: .init { writer in
                try await withGracefulShutdownHandler {
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        for await chunk in stream {
                            try await writer.write(chunk)
                            // Half the bound drained: let a catch-up in progress send more.
                            if queued.value.subtract(1, ordering: .relaxed).newValue == limits.queueLimit / 2 {
                                loop.eventLoop.execute { connection.value.connection.writable() }
                            }
                        }
                    }
                } onGracefulShutdown: {
                    loop.eventLoop.execute { connection.value.connection.drain(within: drainWindow) }
                }
                loop.eventLoop.execute { connection.value.connection.tearDown() }
                try await writer.finish(nil)
            }
        )
    }

    /// `42:17,43:5` → [42: 17, 43: 5]; nil when malformed.
    static func positions(_ text: String?) -> [Int64: Int64]? {
        guard let text, !text.isEmpty else { return [:] }
        var positions: [Int64: Int64] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: ":")
            guard pair.count == 2, let board = Int64(pair[0].trimmingCharacters(in: .whitespaces)), let version = Int64(pair[1]), version >= 0 else {
                return nil
            }
            positions[board] = version
        }
        return positions
    }
}

/// Messages yielded to an SSE response and not written yet.
final class SSEQueued: Sendable {
    let value = Atomic<Int>(0)
}

/// A connection and its SSE transport, kept together for the response's lifetime.
struct SSEConnection {
    let connection: PushConnection
    let transport: SSETransport
}

/// Writes a connection's messages as server-sent events into a bounded stream the response drains.
///
/// Loop-confined like the connection it serves (only `continuation` is thread-safe).
final class SSETransport: PushTransport {
    let continuation: AsyncStream<ByteBuffer>.Continuation
    private var positions: [Int64: Int64]
    private let queued: SSEQueued
    private let limit: Int

    init(continuation: AsyncStream<ByteBuffer>.Continuation, positions: [Int64: Int64], queued: SSEQueued, limit: Int) {
        self.continuation = continuation
        self.positions = positions
        self.queued = queued
        self.limit = limit
    }

    func write(_ message: ByteBuffer, frame: ByteBuffer?, position: (board: Int64, version: Int64)?, flush: Bool) -> Bool {
        if let position { positions[position.board] = position.version }
        var chunk = ByteBuffer()
        chunk.writeString("id: ")
        chunk.writeString(positions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))
        chunk.writeString("\ndata: ")
        chunk.writeImmutableBuffer(message)
        chunk.writeString("\n\n")
        switch continuation.yield(chunk) {
        case .dropped: return false
        case .enqueued: queued.value.add(1, ordering: .relaxed)
        default: break
        }
        return true
    }

    /// Every chunk is flushed as the response writes it.
    func flush() {}

    func close(code: UInt16, reason: String) {
        continuation.finish()
    }

    func ping() -> Bool {
        if case .enqueued = continuation.yield(ByteBuffer(string: ": ping\n\n")) { queued.value.add(1, ordering: .relaxed) }
        return false
    }

    /// History goes out while less than half the stream's bound is waiting for the client.
    var hasRoom: Bool { queued.value.load(ordering: .relaxed) < limit / 2 }
}
