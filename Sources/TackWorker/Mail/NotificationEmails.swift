import Foundation
import Logging
import PostgresNIO
import TackCore

/// Notification email: `emails.notification` (one notification, for users who chose instant) and
/// `emails.digest` (a day's unread notifications, for users who chose daily), plus the sweep that
/// enqueues them. Every worker runs the sweep when `mail.host` is set.
///
/// A notification is emailed at most once in the normal case: the job skips one already marked
/// `emailed_at`, and marks it after the server accepted the message. Only notifications from the
/// last day are emailed, so turning email on later does not flood anyone with old news.
public struct NotificationEmails: JobHandler {
    /// Job arguments of `emails.notification`.
    struct One: Codable, Sendable { var notificationID: Int64 }
    /// Job arguments of `emails.digest`.
    struct Digest: Codable, Sendable { var userID: Int64 }

    let postgres: PostgresClient
    let queue: JobQueue
    let mailer: Mailer
    let logger: Logger

    /// Creates the handler and sweep on the configured mail server.
    public init(mailer: Mailer, postgres: PostgresClient, queue: JobQueue, logger: Logger) {
        self.postgres = postgres
        self.queue = queue
        self.mailer = mailer
        self.logger = logger
    }

    public var kinds: [String] { ["emails.notification", "emails.digest"] }

    public func perform(_ job: Job) async throws {
        if job.kind == "emails.digest" {
            try await sendDigest(userID: try job.decode(Digest.self).userID)
        } else {
            try await sendOne(notificationID: try job.decode(One.self).notificationID)
        }
    }

    // MARK: - Sweep

    /// Enqueues instant emails and due digests; returns true when a batch was full.
    public func sweepOnce() async throws -> Bool {
        let instant = try await postgres.withBoundedTransaction(logger: logger) { tx -> Int in
            // Old news is not emailed (email was off, or the user chose no email).
            try await tx.query(
                """
                UPDATE notifications n SET emailed_at = now() FROM users u
                WHERE u.id = n.user_id AND n.emailed_at IS NULL
                  AND (n.created_at < now() - interval '1 day' OR u.email_notifications = 'off')
                """,
                logger: logger
            )
            let rows = try await tx.query(
                """
                SELECT n.id FROM notifications n JOIN users u ON u.id = n.user_id
                WHERE n.emailed_at IS NULL AND u.email_notifications = 'instant'
                  AND (n.email_queued_at IS NULL OR n.email_queued_at < now() - interval '1 hour')
                ORDER BY n.id LIMIT 500 FOR UPDATE OF n SKIP LOCKED
                """,
                logger: logger
            )
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            guard !ids.isEmpty else { return 0 }
            try await queue.enqueue(
                try ids.map { try NewJob(kind: "emails.notification", arguments: One(notificationID: $0), id: "notification-\($0)") }
            )
            try await tx.query("UPDATE notifications SET email_queued_at = now() WHERE id = ANY(\(ids))", logger: logger)
            return ids.count
        }
        let digests = try await postgres.withBoundedTransaction(logger: logger) { tx -> Int in
            let rows = try await tx.query(
                """
                SELECT u.id FROM users u
                WHERE u.email_notifications = 'daily'
                  AND (u.digest_sent_at IS NULL OR u.digest_sent_at < now() - interval '1 day')
                  AND (u.digest_queued_at IS NULL OR u.digest_queued_at < now() - interval '1 hour')
                  AND EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = u.id AND n.emailed_at IS NULL AND n.read_at IS NULL)
                ORDER BY u.id LIMIT 100 FOR UPDATE OF u SKIP LOCKED
                """,
                logger: logger
            )
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            guard !ids.isEmpty else { return 0 }
            try await queue.enqueue(try ids.map { try NewJob(kind: "emails.digest", arguments: Digest(userID: $0)) })
            try await tx.query("UPDATE users SET digest_queued_at = now() WHERE id = ANY(\(ids))", logger: logger)
            return ids.count
        }
        return instant == 500 || digests == 100
    }

    // MARK: - Sending

    struct Row {
        var kind: String
        var boardID: Int64?
        var cardID: Int64?
        var payload: String
        var times: Int32
        var actor: String?
        var board: String?
        var card: String?

        /// A mention's excerpt of the comment, from the payload.
        var excerpt: String? {
            struct Payload: Decodable { var excerpt: String? }
            return (try? JSONDecoder().decode(Payload.self, from: Data(payload.utf8)))?.excerpt
        }
    }

    private func sendOne(notificationID: Int64) async throws {
        let rows = try await postgres.boundedQuery(
            """
            SELECT n.kind, n.board_id, n.card_id, n.payload::text, n.times, n.emailed_at IS NOT NULL, u.email, u.name, u.email_notifications,
                   a.name, b.name, c.title
            FROM notifications n JOIN users u ON u.id = n.user_id
            LEFT JOIN users a ON a.id = n.actor_id LEFT JOIN boards b ON b.id = n.board_id LEFT JOIN cards c ON c.id = n.card_id
            WHERE n.id = \(notificationID)
            """,
            logger: logger
        )
        for try await (kind, board, card, payload, times, emailed, email, name, preference, actor, boardName, cardTitle)
            in rows.decode((String, Int64?, Int64?, String, Int32, Bool, String, String, String, String?, String?, String?).self)
        {
            guard !emailed, preference == EmailPreference.instant.rawValue else { return }
            let row = Row(kind: kind, boardID: board, cardID: card, payload: payload, times: times, actor: actor, board: boardName, card: cardTitle)
            let message = EmailMessage(
                from: mailer.from,
                to: [email],
                subject: "[Tack] " + summary(row),
                text: "Hello \(name),\n\n\(summary(row)).\n\n" + (row.excerpt.map { "> \($0)\n\n" } ?? "") + "\(link(row))\n\n" + footer,
                messageID: "notification-\(notificationID)@tack"
            )
            try await mailer.deliver(message)
            try await postgres.boundedQuery("UPDATE notifications SET emailed_at = now() WHERE id = \(notificationID)", logger: logger)
            logger.info("notification emailed", metadata: ["tack.notification.id": "\(notificationID)"])
        }
    }

    private func sendDigest(userID: Int64) async throws {
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            let user = try await tx.query(
                """
                SELECT email, name FROM users WHERE id = \(userID) AND email_notifications = 'daily'
                  AND (digest_sent_at IS NULL OR digest_sent_at < now() - interval '1 day') FOR UPDATE
                """,
                logger: logger
            )
            var recipient: (String, String)?
            for try await row in user.decode((String, String).self) { recipient = row }
            guard let (email, name) = recipient else { return }  // sent meanwhile, or preference changed
            let rows = try await tx.query(
                """
                SELECT n.id, n.kind, n.board_id, n.card_id, n.payload::text, n.times, a.name, b.name, c.title
                FROM notifications n LEFT JOIN users a ON a.id = n.actor_id LEFT JOIN boards b ON b.id = n.board_id
                LEFT JOIN cards c ON c.id = n.card_id
                WHERE n.user_id = \(userID) AND n.emailed_at IS NULL AND n.read_at IS NULL
                ORDER BY n.id LIMIT 100
                """,
                logger: logger
            )
            var ids: [Int64] = []
            var lines: [String] = []
            for try await (id, kind, board, card, payload, times, actor, boardName, cardTitle)
                in rows.decode((Int64, String, Int64?, Int64?, String, Int32, String?, String?, String?).self)
            {
                let row = Row(
                    kind: kind,
                    boardID: board,
                    cardID: card,
                    payload: payload,
                    times: times,
                    actor: actor,
                    board: boardName,
                    card: cardTitle
                )
                ids.append(id)
                lines.append("- \(summary(row))" + (row.excerpt.map { "\n  > \($0)" } ?? "") + "\n  \(link(row))")
            }
            if !ids.isEmpty {
                let message = EmailMessage(
                    from: mailer.from,
                    to: [email],
                    subject: "[Tack] \(ids.count) unread notification\(ids.count == 1 ? "" : "s")",
                    text: "Hello \(name),\n\nHere is what happened since your last digest:\n\n" + lines.joined(separator: "\n") + "\n\n" + footer
                )
                try await mailer.deliver(message)
                try await tx.query("UPDATE notifications SET emailed_at = now() WHERE id = ANY(\(ids))", logger: logger)
            }
            try await tx.query("UPDATE users SET digest_sent_at = now() WHERE id = \(userID)", logger: logger)
        }
    }

    func summary(_ row: Row) -> String {
        let who = row.actor ?? "Someone"
        let card = row.card.map { "\u{201C}\($0)\u{201D}" } ?? "a card"
        let board = row.board.map { " on \($0)" } ?? ""
        let times = row.times > 1 ? " (\(row.times) times)" : ""
        switch row.kind {
        case "mentioned": return "\(who) mentioned you on \(card)\(board)\(times)"
        case "assigned": return "\(who) assigned you to \(card)\(board)\(times)"
        case "due_soon": return "\(card)\(board) is due soon"
        case "webhook_disabled": return "A webhook\(board) was disabled after failed deliveries"
        default: return "News about \(card)\(board)"
        }
    }

    func link(_ row: Row) -> String {
        guard let board = row.boardID else { return mailer.baseURL + "/boards" }
        if row.kind == "webhook_disabled" { return mailer.baseURL + "/boards/\(board)/webhooks" }
        return mailer.baseURL + "/boards/\(board)" + (row.cardID.map { "/cards/\($0)" } ?? "")
    }

    var footer: String {
        "You get these emails because of your notification settings in Tack: \(mailer.baseURL)/account/settings"
    }
}
