import Foundation
import Logging
import TackCore

/// The configured SMTP server and sender, shared by every email the worker sends (notifications,
/// digests, invitations, password resets), and how a refusal becomes a job outcome.
public struct Mailer: Sendable {
    let client: SMTPClient
    /// The sender (`mail.from`).
    let from: EmailAddress
    /// `web.base_url` without a trailing slash: links in emails start with it.
    let baseURL: String

    /// The mailer, or nil when no SMTP server is configured (`mail.host` empty).
    ///
    /// - Throws: an error naming the problem when `mail.from` is not an address.
    public init?(config: TackConfiguration, logger: Logger) throws {
        let mail = config.mail
        guard mail.isEnabled else { return nil }
        let from = try EmailAddress(parsing: mail.from)
        let helloName = URLComponents(string: config.web.baseURL)?.host ?? "localhost"
        let settings = SMTPSettings(
            host: mail.host,
            port: mail.port,
            security: SMTPSettings.Security(rawValue: mail.security) ?? .startTLS,
            username: mail.username.isEmpty ? nil : mail.username,
            password: mail.password.isEmpty ? nil : mail.password,
            helloName: helloName,
            trustedRootsPEMFile: mail.caFile.isEmpty ? nil : mail.caFile,
            from: from.address
        )
        self.client = SMTPClient(settings: settings, logger: logger)
        self.from = from
        self.baseURL = config.web.linkBase
    }

    /// Sends one message: a server's permanent refusal fails the job for good, anything else is retried.
    func deliver(_ message: EmailMessage) async throws {
        do {
            try await client.send(message)
        } catch {
            throw error.isPermanent ? JobFailure.permanent("email refused: \(error)") : JobFailure.retry("email not sent: \(error)")
        }
    }
}
