import Foundation
import Logging
import PostgresNIO

/// An in-app notification: a mention, an assignment, a due card, a disabled webhook.
public struct UserNotification: Sendable, Codable, Equatable {
    public var id: Int64
    /// `mentioned`, `assigned`, `due_soon`, `webhook_disabled`.
    public var kind: String
    public var boardID: Int64?
    public var cardID: Int64?
    public var actorID: Int64?
    /// Extra data as a JSON object text (card title, webhook URL…).
    public var payload: String
    public var createdAt: Date
    public var readAt: Date?
    /// The card's title, when there is a card.
    public var cardTitle: String?
    /// The board's name, when there is a board.
    public var boardName: String?
}

/// How a user wants notification emails.
public enum EmailPreference: String, Sendable, Codable, CaseIterable {
    /// One email per notification, within a minute or so.
    case instant
    /// One digest a day of what is unread.
    case daily
    /// No email.
    case off
}

/// How much one request about notifications may ask for.
public enum NotificationRules {
    /// Notifications one "mark read" may list.
    public static let idsPerRequest = 500
}

/// Notifications of one user, and their email preference.
public struct NotificationRepository: Sendable {
    let postgres: PostgresClient
    let logger: Logger

    /// Creates the repository.
    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    /// Newest first; `before` pages by id.
    public func list(userID: Int64, unreadOnly: Bool, limit: Int, before: Int64?) async throws -> [UserNotification] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT n.id, n.kind, n.board_id, n.card_id, n.actor_id, n.payload::text, n.created_at, n.read_at, c.title, b.name
            FROM notifications n LEFT JOIN cards c ON c.id = n.card_id LEFT JOIN boards b ON b.id = n.board_id
            WHERE n.user_id = \(userID) AND n.id < \(before ?? Int64.max) AND (NOT \(unreadOnly) OR n.read_at IS NULL)
            ORDER BY n.id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [UserNotification] = []
        for try await (id, kind, board, card, actor, payload, created, read, title, boardName)
            in rows.decode((Int64, String, Int64?, Int64?, Int64?, String, Date, Date?, String?, String?).self)
        {
            result.append(
                UserNotification(
                    id: id,
                    kind: kind,
                    boardID: board,
                    cardID: card,
                    actorID: actor,
                    payload: payload,
                    createdAt: created,
                    readAt: read,
                    cardTitle: title,
                    boardName: boardName
                )
            )
        }
        return result
    }

    /// How many are unread.
    public func unreadCount(userID: Int64) async throws -> Int {
        let rows = try await postgres.boundedQuery("SELECT count(*) FROM notifications WHERE user_id = \(userID) AND read_at IS NULL", logger: logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    /// Marks the given notifications (or all) read; returns the unread count after.
    public func markRead(userID: Int64, ids: [Int64]?) async throws -> Int {
        if let ids {
            try await postgres.boundedQuery(
                "UPDATE notifications SET read_at = now() WHERE user_id = \(userID) AND id = ANY(\(ids)) AND read_at IS NULL",
                logger: logger
            )
        } else {
            try await postgres.boundedQuery("UPDATE notifications SET read_at = now() WHERE user_id = \(userID) AND read_at IS NULL", logger: logger)
        }
        return try await unreadCount(userID: userID)
    }

    /// The user's email preference.
    public func emailPreference(userID: Int64) async throws -> EmailPreference {
        let rows = try await postgres.boundedQuery("SELECT email_notifications FROM users WHERE id = \(userID)", logger: logger)
        for try await value in rows.decode(String.self) { return EmailPreference(rawValue: value) ?? .instant }
        return .instant
    }

    /// Sets the user's email preference.
    public func setEmailPreference(userID: Int64, _ preference: EmailPreference) async throws {
        try await postgres.boundedQuery("UPDATE users SET email_notifications = \(preference.rawValue) WHERE id = \(userID)", logger: logger)
    }
}
