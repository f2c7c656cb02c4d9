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
    /// Who did it, by name (nil for the system's own notifications, or an account that is gone).
    public var actorName: String?
    /// Extra data as a JSON object text (`excerpt` and `comment_id` of a mention, webhook URL…).
    public var payload: String
    /// How many times it happened in one burst (see ``NotificationRepository/record(_:kind:boardID:cardID:actorID:payload:on:logger:)``).
    public var times: Int
    public var createdAt: Date
    /// When the burst last grew; nil for a single event.
    public var updatedAt: Date?
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

/// How much one request about notifications may ask for, and how they are grouped.
public enum NotificationRules {
    /// Notifications one "mark read" may list.
    public static let idsPerRequest = 500
    /// An unread notification touched less than this long ago takes the next one of the same kind,
    /// card and actor into it (a burst is one notification).
    public static let burstWindowSeconds = 600
    /// Characters of a comment kept as a mention's excerpt.
    public static let excerptLength = 140

    /// A comment as one line of at most ``excerptLength`` characters (… when cut).
    public static func excerpt(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard line.count > excerptLength else { return line }
        return String(line.prefix(excerptLength - 1)).trimmingCharacters(in: .whitespaces) + "\u{2026}"
    }
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
            SELECT n.id, n.kind, n.board_id, n.card_id, n.actor_id, a.name, n.payload::text, n.times, n.created_at, n.updated_at,
                   n.read_at, c.title, b.name
            FROM notifications n LEFT JOIN cards c ON c.id = n.card_id LEFT JOIN boards b ON b.id = n.board_id
            LEFT JOIN users a ON a.id = n.actor_id
            WHERE n.user_id = \(userID) AND n.id < \(before ?? Int64.max) AND (NOT \(unreadOnly) OR n.read_at IS NULL)
            ORDER BY n.id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [UserNotification] = []
        for try await (id, kind, board, card, actor, actorName, payload, times, created, updated, read, title, boardName)
            in rows.decode((Int64, String, Int64?, Int64?, Int64?, String?, String, Int32, Date, Date?, Date?, String?, String?).self)
        {
            result.append(
                UserNotification(
                    id: id,
                    kind: kind,
                    boardID: board,
                    cardID: card,
                    actorID: actor,
                    actorName: actorName,
                    payload: payload,
                    times: Int(times),
                    createdAt: created,
                    updatedAt: updated,
                    readAt: read,
                    cardTitle: title,
                    boardName: boardName
                )
            )
        }
        return result
    }

    /// Records one notification of `kind` about a card by `actorID` for each of `userIDs`, inside a
    /// board write's transaction. A user's unread one of the same kind, card and actor touched in
    /// the last ``NotificationRules/burstWindowSeconds`` grows instead (`times` + 1, this
    /// `payload`), so a burst of mentions is one notification and one email.
    static func record(
        _ userIDs: [Int64],
        kind: String,
        boardID: Int64,
        cardID: Int64,
        actorID: Int64,
        payload: String = "{}",
        on tx: PostgresConnection,
        logger: Logger
    ) async throws {
        guard !userIDs.isEmpty else { return }
        try await tx.query(
            """
            WITH bumped AS (
                UPDATE notifications SET times = times + 1, payload = \(payload)::jsonb, updated_at = now()
                WHERE user_id = ANY(\(userIDs)) AND kind = \(kind) AND card_id = \(cardID) AND actor_id = \(actorID)
                  AND read_at IS NULL AND COALESCE(updated_at, created_at) > now() - make_interval(secs => \(NotificationRules.burstWindowSeconds))
                RETURNING user_id
            )
            INSERT INTO notifications (user_id, kind, board_id, card_id, actor_id, payload)
            SELECT u, \(kind), \(boardID), \(cardID), \(actorID), \(payload)::jsonb FROM unnest(\(userIDs)::BIGINT[]) AS u
            WHERE u NOT IN (SELECT user_id FROM bumped)
            """,
            logger: logger
        )
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
