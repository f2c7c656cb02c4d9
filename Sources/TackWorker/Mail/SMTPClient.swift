import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Sends notification emails through one relay, one connection per message.
///
/// Notifications are rare enough that a connection per message costs nothing worth a pool, and it
/// keeps every failure confined to the message that hit it. Every failure is an `SMTPError` whose
/// `isPermanent` tells the job runner whether to retry.
public struct SMTPClient: Sendable {
    /// The relay and how to reach it.
    public let settings: SMTPSettings
    /// Where connections run.
    let eventLoopGroup: any EventLoopGroup
    /// Gets `tack.smtp.host` and `tack.mail.message_id` metadata per send; never passwords or bodies.
    let logger: Logger
    /// Built once: loading the system trust roots is not free. Nil without TLS.
    private let tlsContext: Result<NIOSSLContext, SMTPError>?

    /// Creates a client; it connects only when sending.
    ///
    /// A TLS setup error (e.g. an unreadable `trustedRootsPEMFile`) is reported by every `send`,
    /// as `invalidConfiguration`.
    public init(
        settings: SMTPSettings,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.settings = settings
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        if settings.security == .none {
            tlsContext = nil
        } else {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let file = settings.trustedRootsPEMFile {
                configuration.additionalTrustRoots = [.file(file)]
            }
            do {
                tlsContext = .success(try NIOSSLContext(configuration: configuration))
            } catch {
                tlsContext = .failure(SMTPError(code: .invalidConfiguration, detail: "TLS setup failed: \(error)"))
            }
        }
    }

    /// Delivers `message` to the relay: EHLO (HELO if refused), STARTTLS and EHLO again when
    /// configured, AUTH when credentials are set, MAIL FROM, RCPT TO for each recipient, DATA, QUIT.
    ///
    /// The message and the settings are checked before connecting. Any recipient refused fails the
    /// whole send before DATA, naming that recipient, so a retry never delivers twice to the others.
    /// Cancelling the task closes the connection.
    ///
    /// - Throws: `SMTPError`.
    public func send(_ message: EmailMessage) async throws(SMTPError) {
        let helloName = try settings.checkedHelloName()
        let credentials = try settings.checkedCredentials()
        let envelopeFrom = try MailSyntax.checkedAddress(settings.from, field: "envelope sender")
        let (text, messageID) = try message.render(helloName: helloName, date: Date())
        let payload = Self.dataPayload(text)

        var logger = self.logger
        logger[metadataKey: "tack.mail.message_id"] = "\(messageID)"
        logger[metadataKey: "tack.smtp.host"] = "\(settings.host):\(settings.port)"

        let connection = try await connect(logger: logger)
        do {
            try await withTaskCancellationHandler {
                try await converse(
                    on: connection,
                    helloName: helloName,
                    credentials: credentials,
                    envelopeFrom: envelopeFrom,
                    recipients: message.to,
                    payload: payload,
                    logger: logger
                )
            } onCancel: {
                connection.channel.close(promise: nil)
            }
        } catch {
            let error = SMTPError.connectionError(error)
            if error.replyCode != nil {
                // The server is still talking to us: end politely so it does not log a dropped client.
                connection.channel.writeAndFlush(ByteBuffer(string: "QUIT\r\n"), promise: nil)
            }
            await connection.close()
            logger.debug("email not sent", metadata: ["tack.smtp.error": "\(error)"])
            throw error
        }
        _ = try? await connection.reply(to: "QUIT", verb: "QUIT")
        await connection.close()
        logger.debug("email sent", metadata: ["tack.mail.recipients": "\(message.to.count)"])
    }

    private func connect(logger: Logger) async throws(SMTPError) -> SMTPConnection {
        let timeout = TimeAmount(settings.timeout)
        let implicitTLS: SMTPReplyHandler.TLSUpgrade? = settings.security == .tls ? try tlsUpgrade() : nil
        logger.trace("connecting to SMTP relay")
        do {
            return try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(timeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try SMTPConnection.configure(channel: channel, timeout: timeout, tls: implicitTLS)
                    }
                }
        } catch let error as NIOSSLExtraError {
            throw SMTPError(code: .tlsFailure, detail: "\(error)")
        } catch {
            throw SMTPError(code: .connectionFailed, detail: "cannot connect to \(settings.host):\(settings.port): \(error)")
        }
    }

    private func tlsUpgrade() throws(SMTPError) -> SMTPReplyHandler.TLSUpgrade {
        guard let tlsContext else {
            throw SMTPError(code: .invalidConfiguration, detail: "TLS requested without a TLS context")
        }
        // An IP address cannot go into SNI; NIOSSL then checks the certificate's IP SANs against the peer.
        let isIPAddress = (try? SocketAddress(ipAddress: settings.host, port: 0)) != nil
        return SMTPReplyHandler.TLSUpgrade(context: try tlsContext.get(), serverHostname: isIPAddress ? nil : settings.host)
    }

    private func converse(
        on connection: SMTPConnection,
        helloName: String,
        credentials: (username: String, password: String)?,
        envelopeFrom: String,
        recipients: [String],
        payload: ByteBuffer,
        logger: Logger
    ) async throws(SMTPError) {
        let greeting = try await connection.reply(to: nil, verb: "greeting")
        guard greeting.code == 220 else {
            throw SMTPError.rejected(greeting, command: "the connection (greeting)")
        }
        var extensions = try await hello(on: connection, helloName: helloName)

        if settings.security == .startTLS {
            guard extensions["STARTTLS"] != nil else {
                throw SMTPError(
                    code: .startTLSUnavailable,
                    command: "EHLO",
                    detail: "the server does not offer STARTTLS, which the settings require"
                )
            }
            let reply = try await connection.reply(to: "STARTTLS", verb: "STARTTLS", upgradeToTLS: try tlsUpgrade())
            guard reply.code == 220 else { throw SMTPError.rejected(reply, command: "STARTTLS") }
            // RFC 3207 §4.2: forget everything learnt before TLS.
            extensions = try await hello(on: connection, helloName: helloName)
            logger.trace("STARTTLS done")
        }

        if let credentials {
            try await authenticate(on: connection, extensions: extensions, credentials: credentials)
        }

        let mail = try await connection.reply(to: "MAIL FROM:<\(envelopeFrom)>", verb: "MAIL FROM")
        guard mail.isPositiveCompletion else { throw SMTPError.rejected(mail, command: "MAIL FROM") }
        for recipient in recipients {
            let reply = try await connection.reply(to: "RCPT TO:<\(recipient)>", verb: "RCPT TO")
            guard reply.isPositiveCompletion else {
                throw SMTPError.rejected(reply, command: "RCPT TO", recipient: recipient)
            }
        }
        let data = try await connection.reply(to: "DATA", verb: "DATA")
        guard data.code == 354 else { throw SMTPError.rejected(data, command: "DATA") }
        let accepted = try await connection.reply(toData: payload, verb: "message data")
        guard accepted.isPositiveCompletion else { throw SMTPError.rejected(accepted, command: "message data") }
    }

    /// EHLO, or HELO when the server does not know EHLO; returns the extensions (keyword → parameters).
    private func hello(on connection: SMTPConnection, helloName: String) async throws(SMTPError) -> [String: String] {
        let ehlo = try await connection.reply(to: "EHLO \(helloName)", verb: "EHLO")
        if ehlo.code == 250 {
            var extensions: [String: String] = [:]
            for line in ehlo.lines.dropFirst() {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard let keyword = parts.first else { continue }
                // Old servers write "AUTH=LOGIN PLAIN".
                let split = keyword.split(separator: "=", maxSplits: 1)
                let name = split[0].uppercased()
                let parameters = parts.count > 1 ? String(parts[1]) : split.count > 1 ? String(split[1]) : ""
                extensions[name] = [extensions[name], parameters].compactMap { $0 }.joined(separator: " ")
            }
            return extensions
        }
        guard (500..<600).contains(ehlo.code) else { throw SMTPError.rejected(ehlo, command: "EHLO") }
        let helo = try await connection.reply(to: "HELO \(helloName)", verb: "HELO")
        guard helo.code == 250 else { throw SMTPError.rejected(helo, command: "HELO") }
        return [:]
    }

    /// AUTH PLAIN (RFC 4616), or AUTH LOGIN when PLAIN is not offered.
    private func authenticate(
        on connection: SMTPConnection,
        extensions: [String: String],
        credentials: (username: String, password: String)
    ) async throws(SMTPError) {
        let mechanisms = Set((extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init))
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

        if mechanisms.contains("PLAIN") {
            let token = base64("\0\(credentials.username)\0\(credentials.password)")
            let reply = try await connection.reply(to: "AUTH PLAIN \(token)", verb: "AUTH PLAIN")
            guard reply.code == 235 else { throw SMTPError.rejected(reply, command: "AUTH PLAIN") }
        } else if mechanisms.contains("LOGIN") {
            let start = try await connection.reply(to: "AUTH LOGIN", verb: "AUTH LOGIN")
            guard start.code == 334 else { throw SMTPError.rejected(start, command: "AUTH LOGIN") }
            let user = try await connection.reply(to: base64(credentials.username), verb: "AUTH LOGIN")
            guard user.code == 334 else { throw SMTPError.rejected(user, command: "AUTH LOGIN") }
            let done = try await connection.reply(to: base64(credentials.password), verb: "AUTH LOGIN")
            guard done.code == 235 else { throw SMTPError.rejected(done, command: "AUTH LOGIN") }
        } else {
            throw SMTPError(
                code: .authenticationUnavailable,
                command: "AUTH",
                detail: mechanisms.isEmpty
                    ? "credentials are configured but the server offers no AUTH"
                    : "the server offers only AUTH \(mechanisms.sorted().joined(separator: " ")); PLAIN or LOGIN is needed"
            )
        }
    }

    /// The bytes after DATA: the message with every line starting with "." doubled (RFC 5321 §4.5.2),
    /// then the terminating ".".
    static func dataPayload(_ message: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(message.utf8.count + message.utf8.count / 64 + 8)
        var atLineStart = true
        var previous: UInt8 = 0
        for byte in message.utf8 {
            if atLineStart && byte == UInt8(ascii: ".") {
                buffer.writeInteger(UInt8(ascii: "."))
            }
            buffer.writeInteger(byte)
            atLineStart = previous == UInt8(ascii: "\r") && byte == UInt8(ascii: "\n")
            previous = byte
        }
        if !message.hasSuffix("\r\n") {
            buffer.writeString("\r\n")
        }
        buffer.writeString(".\r\n")
        return buffer
    }
}
