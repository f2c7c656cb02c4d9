import Foundation
import Hummingbird
import Logging
import TackCore

/// `/api/v1/notifications` (the bell) and `/api/v1/me/settings` (email preference).
struct NotificationController: Sendable {
    let repository: NotificationRepository

    /// A notification as clients see it (payload embedded as JSON).
    struct Item: Encodable, Sendable {
        let notification: UserNotification

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: DynamicKey.self)
            try c.encode(notification.id, forKey: DynamicKey("id"))
            try c.encode(notification.kind, forKey: DynamicKey("kind"))
            try c.encode(notification.boardID, forKey: DynamicKey("board_id"))
            try c.encode(notification.cardID, forKey: DynamicKey("card_id"))
            try c.encode(notification.actorID, forKey: DynamicKey("actor_id"))
            try c.encode(notification.actorName, forKey: DynamicKey("actor_name"))
            try c.encode(try StrictJSON.parse(notification.payload, limits: .stored), forKey: DynamicKey("payload"))
            try c.encode(notification.times, forKey: DynamicKey("times"))
            try c.encode(notification.createdAt, forKey: DynamicKey("created_at"))
            try c.encode(notification.updatedAt, forKey: DynamicKey("updated_at"))
            try c.encode(notification.readAt, forKey: DynamicKey("read_at"))
            try c.encode(notification.cardTitle, forKey: DynamicKey("card_title"))
            try c.encode(notification.boardName, forKey: DynamicKey("board_name"))
        }
    }

    struct Page: ResponseEncodable, Sendable {
        let items: [Item]
        let unreadCount: Int
        let nextCursor: Int64?

    }

    struct ReadRequest: Decodable, Sendable {
        var ids: [Int64]?
        var all: Bool?
    }

    struct Unread: ResponseEncodable, Sendable {
        let unreadCount: Int

    }

    struct Settings: ResponseEncodable, Decodable, Sendable {
        var emailNotifications: EmailPreference

    }

    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/notifications", use: list)
        api.post("/notifications/read", use: markRead)
        api.get("/me/settings", use: settings)
        api.patch("/me/settings", use: updateSettings)
    }

    @Sendable func list(_ request: Request, context: TackRequestContext) async throws -> Page {
        let caller = try context.requireCaller()
        let limit = try request.limit()
        let before = try request.cursor("before")
        let unreadOnly = try request.flag("unread") ?? false
        let items = try await repository.list(userID: caller.userID, unreadOnly: unreadOnly, limit: limit, before: before)
        return Page(
            items: items.map(Item.init),
            unreadCount: try await repository.unreadCount(userID: caller.userID),
            nextCursor: items.count == limit ? items.last?.id : nil
        )
    }

    @Sendable func markRead(_ request: Request, context: TackRequestContext) async throws -> Unread {
        let caller = try context.requireCaller()
        guard caller.mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        let body = try await JSONBody.decode(ReadRequest.self, from: request, context: context)
        switch (body.ids, body.all) {
        case (let ids?, nil):
            guard ids.count <= NotificationRules.idsPerRequest else {
                throw APIError.invalid("ids", "ids may list at most \(NotificationRules.idsPerRequest) notifications.")
            }
            return Unread(unreadCount: try await repository.markRead(userID: caller.userID, ids: ids))
        case (nil, true?):
            return Unread(unreadCount: try await repository.markRead(userID: caller.userID, ids: nil))
        default:
            throw APIError.invalid("ids", "Give ids (a list of notification ids) or all: true.")
        }
    }

    @Sendable func settings(_ request: Request, context: TackRequestContext) async throws -> Settings {
        let caller = try context.requireCaller()
        return Settings(emailNotifications: try await repository.emailPreference(userID: caller.userID))
    }

    @Sendable func updateSettings(_ request: Request, context: TackRequestContext) async throws -> Settings {
        let caller = try context.requireCaller()
        guard caller.mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        struct Body: Decodable {
            var emailNotifications: String

        }
        let body = try await JSONBody.decode(Body.self, from: request, context: context)
        guard let preference = EmailPreference(rawValue: body.emailNotifications) else {
            throw APIError.invalid("email_notifications", "email_notifications must be instant, daily or off.")
        }
        try await repository.setEmailPreference(userID: caller.userID, preference)
        return Settings(emailNotifications: preference)
    }
}
