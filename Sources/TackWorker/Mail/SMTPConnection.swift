import NIOCore
import NIOSSL

/// One open connection to the relay, used by one `send` from greeting to QUIT.
///
/// The pipeline is `[NIOSSLClientHandler] → ByteToMessageHandler(SMTPReplyDecoder) → SMTPReplyHandler`;
/// the TLS handler is there from the start for implicit TLS and inserted at the front for STARTTLS.
struct SMTPConnection: Sendable {
    /// The TCP connection.
    let channel: any Channel
    /// The pipeline's last handler, only touched on the channel's event loop.
    let handler: NIOLoopBound<SMTPReplyHandler>

    /// Installs the handlers; runs on the channel's event loop from the bootstrap's initializer.
    static func configure(
        channel: any Channel,
        timeout: TimeAmount,
        tls: SMTPReplyHandler.TLSUpgrade?
    ) throws -> SMTPConnection {
        let operations = channel.pipeline.syncOperations
        if let tls {
            try operations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverHostname))
        }
        let handler = SMTPReplyHandler(timeout: timeout)
        try operations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
        try operations.addHandler(handler)
        return SMTPConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
    }

    /// Sends `command` (nil: only wait, for the greeting) and returns the server's reply.
    ///
    /// - Parameters:
    ///   - verb: names the command in errors and logs; commands may carry credentials, verbs never do.
    ///   - upgradeToTLS: after a 220 reply, TLS is started before any further byte is read.
    func reply(to command: String?, verb: String, upgradeToTLS: SMTPReplyHandler.TLSUpgrade? = nil) async throws(SMTPError) -> SMTPReply {
        try await exchange(command.map { ByteBuffer(string: $0 + "\r\n") }, verb: verb, upgradeToTLS: upgradeToTLS)
    }

    /// Sends raw bytes (the DATA payload) and returns the reply.
    func reply(toData payload: ByteBuffer, verb: String) async throws(SMTPError) -> SMTPReply {
        try await exchange(payload, verb: verb, upgradeToTLS: nil)
    }

    /// Closes the connection; errors are irrelevant by then.
    func close() async {
        try? await channel.close()
    }

    private func exchange(_ bytes: ByteBuffer?, verb: String, upgradeToTLS: SMTPReplyHandler.TLSUpgrade?) async throws(SMTPError) -> SMTPReply {
        let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.value.exchange(bytes, verb: verb, upgradeToTLS: upgradeToTLS, promise: promise)
        }
        do {
            return try await promise.futureResult.get()
        } catch {
            throw SMTPError.connectionError(error)
        }
    }
}

/// Matches replies to the command waiting for them, enforces the per-command timeout and performs
/// the STARTTLS switch.
///
/// Lives on the channel's event loop; `SMTPConnection` reaches it through `NIOLoopBound`.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = SMTPReply
    typealias OutboundOut = ByteBuffer

    /// What to put in front of the pipeline when TLS starts.
    struct TLSUpgrade: Sendable {
        let context: NIOSSLContext
        /// Host name for SNI and certificate verification; nil for an IP address, which NIOSSL then
        /// verifies against the certificate's IP SANs using the peer address.
        let serverHostname: String?
    }

    private struct Waiter {
        let promise: EventLoopPromise<SMTPReply>
        let verb: String
        let timer: Scheduled<Void>
    }

    private let timeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var unclaimed = CircularBuffer<SMTPReply>()
    private var waiter: Waiter?
    private var failure: SMTPError?
    private var pendingUpgrade: TLSUpgrade?

    /// Creates the handler; `timeout` bounds the wait for each reply.
    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    /// Keeps the context, to write commands and to start TLS.
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Fails a command still waiting: no reply can come any more.
    func handlerRemoved(context: ChannelHandlerContext) {
        fail(SMTPError(code: .connectionClosed, detail: "connection closed"))
        self.context = nil
    }

    /// Hands the reply to the waiting command, or keeps it for the next one (the greeting arrives
    /// before anyone asks). After an accepted STARTTLS, inserts TLS before returning, so no byte
    /// that follows is read as plaintext.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = Self.unwrapInboundIn(data)
        if let upgrade = pendingUpgrade {
            pendingUpgrade = nil
            if reply.code == 220 {
                guard !reply.followedByData, unclaimed.isEmpty else {
                    fail(
                        SMTPError(
                            code: .protocolViolation,
                            command: "STARTTLS",
                            detail: "server sent plaintext after accepting STARTTLS"
                        )
                    )
                    context.close(promise: nil)
                    return
                }
                do {
                    let tlsHandler = try NIOSSLClientHandler(context: upgrade.context, serverHostname: upgrade.serverHostname)
                    try context.pipeline.syncOperations.addHandler(tlsHandler, position: .first)
                } catch {
                    fail(SMTPError(code: .tlsFailure, command: "STARTTLS", detail: "\(error)"))
                    context.close(promise: nil)
                    return
                }
            }
        }
        if let waiter {
            self.waiter = nil
            waiter.timer.cancel()
            waiter.promise.succeed(reply)
        } else {
            unclaimed.append(reply)
        }
    }

    /// A decoding, TLS or I/O error ends the conversation.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(SMTPError.connectionError(error))
        context.close(promise: nil)
    }

    /// The server hung up.
    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPError(code: .connectionClosed, detail: "the server closed the connection"))
        context.fireChannelInactive()
    }

    /// Writes `bytes` (if any) and completes `promise` with the next reply, or fails it.
    func exchange(_ bytes: ByteBuffer?, verb: String, upgradeToTLS: TLSUpgrade?, promise: EventLoopPromise<SMTPReply>) {
        if let failure {
            promise.fail(failure.during(verb))
            return
        }
        guard let context, waiter == nil else {
            promise.fail(SMTPError(code: .connectionClosed, command: verb, detail: "connection not usable"))
            return
        }
        if upgradeToTLS != nil && !unclaimed.isEmpty {
            // Replies nobody asked for before STARTTLS: the stream is out of step, and TLS must not
            // start on top of it.
            promise.fail(SMTPError(code: .protocolViolation, command: verb, detail: "unexpected reply before STARTTLS"))
            context.close(promise: nil)
            return
        }
        pendingUpgrade = upgradeToTLS
        if let bytes {
            context.writeAndFlush(Self.wrapOutboundOut(bytes), promise: nil)
        }
        if let reply = unclaimed.popFirst() {
            promise.succeed(reply)
            return
        }
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            fail(SMTPError(code: .timeout, detail: "no reply within \(timeout)"))
            self.context?.close(promise: nil)
        }
        waiter = Waiter(promise: promise, verb: verb, timer: timer)
    }

    /// Fails the waiting command and every later one with the first failure seen.
    private func fail(_ error: SMTPError) {
        if failure == nil {
            failure = error
        }
        if let waiter {
            self.waiter = nil
            waiter.timer.cancel()
            waiter.promise.fail(failure!.during(waiter.verb))
        }
    }
}

extension SMTPError {
    /// The same error, naming the command it interrupted if it does not already.
    func during(_ verb: String) -> SMTPError {
        guard command == nil else { return self }
        return SMTPError(
            code: code,
            replyCode: replyCode,
            replyText: replyText,
            command: verb,
            recipient: recipient,
            detail: detail
        )
    }
}
