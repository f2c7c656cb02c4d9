import Foundation
import Logging
import PostgresNIO
import TackCore

/// Account emails: `emails.invitation` (the link to join a board) and `emails.password_reset` (the
/// link to set a new password), plus the sweep that enqueues them from PostgreSQL. Every worker
/// runs the sweep when `mail.host` is set.
///
/// The web role only records an invitation or a reset request; the link is rebuilt here from the
/// row and `secret_key` (``SignedLink``), so no secret passes through Redis. A job Redis lost is
/// enqueued again an hour later by the sweep (`email_queued_at`), as for notifications. A reset
/// request for an address no account has is marked sent without an email.
public struct AccountEmails: JobHandler {
    /// Job arguments of both kinds: the row id.
    struct Row: Codable, Sendable { var id: Int64 }

    let postgres: PostgresClient
    let queue: JobQueue
    let mailer: Mailer
    let secret: String
    let logger: Logger

    /// Creates the handler and sweep on the configured mail server; `secret` is `secret_key`.
    public init(mailer: Mailer, secret: String, postgres: PostgresClient, queue: JobQueue, logger: Logger) {
        self.postgres = postgres
        self.queue = queue
        self.mailer = mailer
        self.secret = secret
        self.logger = logger
    }

    public var kinds: [String] { ["emails.invitation", "emails.password_reset"] }

    public func perform(_ job: Job) async throws {
        let id = try job.decode(Row.self).id
        if job.kind == "emails.invitation" { try await sendInvitation(id: id) } else { try await sendReset(id: id) }
    }

    // MARK: - Sweep

    /// Enqueues the emails of new invitations and reset requests; returns true when a batch was full.
    public func sweepOnce() async throws -> Bool {
        let invitations = try await enqueue(
            "emails.invitation",
            select: """
                SELECT id FROM invitations
                WHERE emailed_at IS NULL AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
                  AND (email_queued_at IS NULL OR email_queued_at < now() - interval '1 hour')
                ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED
                """,
            mark: { "UPDATE invitations SET email_queued_at = now() WHERE id = ANY(\($0))" }
        )
        let resets = try await enqueue(
            "emails.password_reset",
            select: """
                SELECT id FROM password_resets
                WHERE emailed_at IS NULL AND used_at IS NULL AND expires_at > now()
                  AND (email_queued_at IS NULL OR email_queued_at < now() - interval '1 hour')
                ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED
                """,
            mark: { "UPDATE password_resets SET email_queued_at = now() WHERE id = ANY(\($0))" }
        )
        return invitations == 100 || resets == 100
    }

    /// In one transaction: the rows `select` locks, one job each, then `mark` on their ids.
    private func enqueue(_ kind: String, select: PostgresQuery, mark: @escaping @Sendable ([Int64]) -> PostgresQuery) async throws -> Int {
        try await postgres.withBoundedTransaction(logger: logger) { tx -> Int in
            var ids: [Int64] = []
            for try await id in try await tx.query(select, logger: logger).decode(Int64.self) { ids.append(id) }
            guard !ids.isEmpty else { return 0 }
            try await queue.enqueue(try ids.map { try NewJob(kind: kind, arguments: Row(id: $0), id: "\(kind)-\($0)") })
            try await tx.query(mark(ids), logger: logger)
            return ids.count
        }
    }

    // MARK: - Sending

    private func sendInvitation(id: Int64) async throws {
        let rows = try await postgres.boundedQuery(
            """
            SELECT i.board_id, i.email, i.role, i.expires_at, b.name, u.name
            FROM invitations i JOIN boards b ON b.id = i.board_id LEFT JOIN users u ON u.id = i.invited_by
            WHERE i.id = \(id) AND i.emailed_at IS NULL AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
            """,
            logger: logger
        )
        for try await (boardID, email, role, expiresAt, board, inviter) in rows.decode((Int64, String, String, Date, String, String?).self) {
            let link = SignedLink.make(.invitation, id: id, facts: BoardStore.invitationFacts(boardID: boardID, email: email), secret: secret)
            let who = inviter ?? "Someone"
            let message = EmailMessage(
                from: mailer.from,
                to: [email],
                subject: "[Tack] \(who) invited you to \(board)",
                text: """
                    Hello,

                    \(who) invited you to the board \u{201C}\(board)\u{201D} on Tack, as \(role).

                    Open this link to join (it works once, until \(Self.day(expiresAt))):

                    \(mailer.baseURL)/invitations/accept#\(link)

                    If you did not expect this invitation, you can ignore this email.
                    """,
                messageID: "invitation-\(id)@tack"
            )
            try await mailer.deliver(message)
            try await postgres.boundedQuery("UPDATE invitations SET emailed_at = now() WHERE id = \(id)", logger: logger)
            logger.info("invitation emailed", metadata: ["tack.invitation.id": "\(id)"])
        }
    }

    private func sendReset(id: Int64) async throws {
        let rows = try await postgres.boundedQuery(
            """
            SELECT r.email, u.name, u.password_hash
            FROM password_resets r LEFT JOIN users u ON u.email = r.email
            WHERE r.id = \(id) AND r.emailed_at IS NULL AND r.used_at IS NULL AND r.expires_at > now()
            """,
            logger: logger
        )
        for try await (email, name, hash) in rows.decode((String, String?, String?).self) {
            if let name, let hash {
                let facts = PasswordResets.facts(email: email, passwordHash: hash)
                let link = SignedLink.make(.passwordReset, id: id, facts: facts, secret: secret)
                let message = EmailMessage(
                    from: mailer.from,
                    to: [email],
                    subject: "[Tack] Reset your password",
                    text: """
                        Hello \(name),

                        Someone (we hope you) asked to reset the password of your Tack account. Open this link to choose a new one; it works once, for an hour:

                        \(mailer.baseURL)/password_reset#\(link)

                        If you did not ask, ignore this email: your password stays as it is.
                        """,
                    messageID: "password-reset-\(id)@tack"
                )
                try await mailer.deliver(message)
            }
            // No account has the address: nothing is sent, and the request is done all the same.
            try await postgres.boundedQuery("UPDATE password_resets SET emailed_at = now() WHERE id = \(id)", logger: logger)
            logger.info("password reset request handled", metadata: ["tack.password_reset.id": "\(id)", "tack.email.sent": "\(name != nil)"])
        }
    }

    private static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "d MMMM yyyy, HH:mm 'UTC'"
        return formatter.string(from: date)
    }
}
