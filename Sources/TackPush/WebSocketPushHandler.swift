import NIOCore
import NIOWebSocket

/// The WebSocket side of a push connection: a synchronous handler on the channel's loop, no Task.
///
/// Writes go straight to the socket while it is writable; otherwise they wait in a bounded queue
/// (`PushLimits.queueLimit` messages or `queueBytes` bytes) drained on writability. A client
/// that lets the queue fill is cut off (close 4008) and the others never wait for it.
final class WebSocketPushHandler: ChannelInboundHandler, RemovableChannelHandler, PushTransport {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let makeConnection: (WebSocketPushHandler) -> PushConnection
    private var connection: PushConnection?
    private var context: ChannelHandlerContext?
    private var queue: CircularBuffer<ByteBuffer>?
    private var queuedBytes = 0
    private let limits: PushLimits
    private var closing = false
    /// The channel's writability, as its last writability change said (read per delivery, so
    /// kept here rather than asked of the channel each time).
    private var writable = false
    /// Frames written since the last flush.
    private var unflushed = false
    /// Text frames, already framed, are written from the head end of the pipeline (past NIO's
    /// frame encoder); control frames go through the encoder.
    private let raw: RawFrameWriter

    init(limits: PushLimits, raw: RawFrameWriter, makeConnection: @escaping (WebSocketPushHandler) -> PushConnection) {
        self.limits = limits
        self.raw = raw
        self.makeConnection = makeConnection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
        let connection = makeConnection(self)
        self.connection = connection
        connection.open()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connection?.tearDown()
        connection = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.tearDown()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard frame.fin else {
                close(code: 1009, reason: "fragmented messages are not accepted")
                return
            }
            connection?.receive(frame.unmaskedData)
        case .binary, .continuation:
            close(code: PushCloseCode.unsupportedData, reason: "send JSON text messages")
        case .ping:
            guard !closing else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            connection?.pong()
        case .connectionClose:
            if closing {
                context.close(promise: nil)
            } else {
                closing = true
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self).map { ByteBuffer(integer: $0) } ?? ByteBuffer()
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code))).whenComplete { _ in
                    context.close(promise: nil)
                }
                connection?.tearDown()
            }
        default:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        drainQueue()
        if hasRoom { connection?.writable() }
        context.fireChannelWritabilityChanged()
    }

    var hasRoom: Bool { queue == nil && !closing && writable }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            connection?.drain(within: limits.drainWindow)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: - PushTransport

    func write(_ message: ByteBuffer, frame: ByteBuffer?, position: (board: Int64, version: Int64)?, flush: Bool) -> Bool {
        guard context != nil, !closing else { return true }
        let frame = frame ?? WebSocketWire.textFrame(message)
        if queue == nil, writable, let raw = raw.context {
            if flush {
                raw.writeAndFlush(NIOAny(frame), promise: nil)
            } else {
                raw.write(NIOAny(frame), promise: nil)
            }
            unflushed = !flush
            return true
        }
        var pending = queue ?? CircularBuffer(initialCapacity: 16)
        guard pending.count < limits.queueLimit, queuedBytes + frame.readableBytes <= limits.queueBytes else { return false }
        pending.append(frame)
        queuedBytes += frame.readableBytes
        queue = pending
        return true
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
        raw.context?.flush()
    }

    private func drainQueue() {
        guard let raw = raw.context, var pending = queue else { return }
        var wrote = unflushed
        unflushed = false
        while raw.channel.isWritable, let next = pending.popFirst() {
            queuedBytes -= next.readableBytes
            raw.write(NIOAny(next), promise: nil)
            wrote = true
        }
        if wrote { raw.flush() }
        queue = pending.isEmpty ? nil : pending
    }

    func close(code: UInt16, reason: String) {
        guard let context, !closing else { return }
        closing = true
        queue = nil
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        // A client that stopped reading never answers the close: end the TCP connection anyway.
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    func ping() -> Bool {
        guard let context, !closing else { return false }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
        return true
    }
}

/// Sits first in an upgraded pipeline so pre-framed bytes can be written straight to the socket.
final class RawFrameWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    private(set) var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }
}
