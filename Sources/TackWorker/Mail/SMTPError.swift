import NIOCore
import NIOSSL

/// Why an email was not sent.
///
/// `isPermanent` tells the job runner what to do: a permanent failure (a 5xx reply, a message or
/// configuration that can never be sent) is dead-lettered; a transient one (a 4xx reply, a refused or
/// dropped connection, a timeout, a TLS failure) is retried later.
public struct SMTPError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: String, Sendable, Hashable {
            case serverRejected, recipientRejected
            case connectionFailed, connectionClosed, timeout, tlsFailure, startTLSUnavailable, protocolViolation
            case authenticationUnavailable, insecureAuthentication, invalidMessage, invalidConfiguration
        }

        /// The value behind the public constants; an enum kept internal so codes can be added.
        let base: Base

        /// The server answered a command with an error reply (`replyCode`, `replyText`, `command`).
        public static let serverRejected = Code(base: .serverRejected)
        /// The server refused one recipient (`recipient` names it); nothing was sent.
        public static let recipientRejected = Code(base: .recipientRejected)
        /// The TCP connection could not be opened (refused, unreachable, name not resolved, connect timeout).
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The connection broke or the server closed it before the conversation ended.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// The server did not answer a command within `SMTPSettings.timeout`.
        public static let timeout = Code(base: .timeout)
        /// The TLS handshake failed, including an untrusted certificate or one not valid for the host.
        public static let tlsFailure = Code(base: .tlsFailure)
        /// STARTTLS is required but the server did not offer it (misconfigured relay or a downgrade attack).
        public static let startTLSUnavailable = Code(base: .startTLSUnavailable)
        /// The server's replies could not be understood.
        public static let protocolViolation = Code(base: .protocolViolation)
        /// Credentials are configured but the server offers neither AUTH PLAIN nor AUTH LOGIN.
        public static let authenticationUnavailable = Code(base: .authenticationUnavailable)
        /// Credentials would have been sent over an unencrypted connection; nothing was sent.
        public static let insecureAuthentication = Code(base: .insecureAuthentication)
        /// The message cannot be sent as it is (header injection, invalid address, no recipient).
        public static let invalidMessage = Code(base: .invalidMessage)
        /// The settings cannot work (bad hello name, password without user name, unreadable CA file).
        public static let invalidConfiguration = Code(base: .invalidConfiguration)

        /// The code's name, e.g. `recipientRejected`.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The server's reply code when the server refused, e.g. 550.
    public let replyCode: Int?
    /// The server's reply text when the server refused (continuation lines joined with a space).
    public let replyText: String?
    /// The command that failed (`RCPT TO`, `AUTH PLAIN`, …), never with its arguments.
    public let command: String?
    /// The refused recipient's address, for `recipientRejected`.
    public let recipient: String?
    /// What went wrong, for failures without a reply.
    public let detail: String?

    /// Creates an error; only this module creates them.
    init(
        code: Code,
        replyCode: Int? = nil,
        replyText: String? = nil,
        command: String? = nil,
        recipient: String? = nil,
        detail: String? = nil
    ) {
        self.code = code
        self.replyCode = replyCode
        self.replyText = replyText
        self.command = command
        self.recipient = recipient
        self.detail = detail
    }

    /// Whether retrying the same message later is pointless.
    public var isPermanent: Bool {
        switch code.base {
        case .serverRejected, .recipientRejected:
            (replyCode ?? 500) >= 500
        case .connectionFailed, .connectionClosed, .timeout, .tlsFailure, .startTLSUnavailable, .protocolViolation:
            false
        case .authenticationUnavailable, .insecureAuthentication, .invalidMessage, .invalidConfiguration:
            true
        }
    }

    /// One line an operator can act on.
    public var description: String {
        var text: String
        switch code.base {
        case .recipientRejected:
            text = "SMTP server refused recipient <\(recipient ?? "")>"
        case .serverRejected:
            text = "SMTP server refused \(command ?? "the connection")"
        default:
            text = "SMTP \(code)"
            if let command { text += " during \(command)" }
        }
        if let replyCode { text += ": \(replyCode) \(replyText ?? "")" }
        if let detail { text += ": \(detail)" }
        return text + (isPermanent ? " (permanent)" : " (transient)")
    }
}

extension SMTPError {
    /// The error for a reply the conversation cannot go on after.
    static func rejected(_ reply: SMTPReply, command: String, recipient: String? = nil) -> SMTPError {
        SMTPError(
            code: recipient == nil ? .serverRejected : .recipientRejected,
            replyCode: reply.code,
            replyText: reply.text,
            command: command,
            recipient: recipient
        )
    }

    /// Classifies an error that NIO or NIOSSL reported on an open connection.
    static func connectionError(_ error: any Error) -> SMTPError {
        switch error {
        case let error as SMTPError:
            error
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            SMTPError(code: .tlsFailure, detail: "\(error)")
        default:
            SMTPError(code: .connectionClosed, detail: "\(error)")
        }
    }
}
