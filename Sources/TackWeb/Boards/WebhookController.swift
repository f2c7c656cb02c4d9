import Foundation
import Hummingbird
import Logging
import TackCore

/// `/api/v1/boards/{board}/webhooks…`: a board's outgoing webhooks and their delivery log.
/// Board admins and owners manage them; other members get 403, non-members 404.
struct WebhookController: Sendable {
    let store: WebhookStore
    let boards: BoardStore
    let allowPrivateTargets: Bool

    struct CreateRequest: Decodable, Sendable {
        var url: String
        var secret: String?
        var events: [String]?
        var active: Bool?
    }

    struct UpdateRequest: Decodable, Sendable {
        var url: String?
        var secret: String?
        var events: [String]?
        var active: Bool?
    }

    /// The answer to a create: the webhook and its secret, shown this once; `standard_secret` is
    /// the same secret as the Standard Webhooks libraries take it (equal to `secret` when Tack made it).
    struct Created: ResponseEncodable, Sendable {
        let webhook: Webhook
        let secret: String
        let standardSecret: String
    }

    struct One: ResponseEncodable, Sendable {
        let webhook: Webhook
    }

    struct List: ResponseEncodable, Sendable {
        let items: [Webhook]
    }

    struct Deliveries: ResponseEncodable, Sendable {
        let items: [WebhookDeliveryRecord]
        let nextCursor: Int64?

    }

    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/boards/{board}/webhooks", use: list)
        api.post("/boards/{board}/webhooks", use: create)
        api.get("/boards/{board}/webhooks/{webhook}", use: get)
        api.patch("/boards/{board}/webhooks/{webhook}", use: update)
        api.delete("/boards/{board}/webhooks/{webhook}", use: delete)
        api.get("/boards/{board}/webhooks/{webhook}/deliveries", use: deliveries)
    }

    /// The board id after checking the caller administers the board (and, for writes, may write).
    func administeredBoard(_ context: TackRequestContext, write: Bool) async throws -> (board: Int64, user: Int64) {
        let caller = try context.requireCaller()
        let board = try context.pathID("board")
        _ = try await boards.requireRole(boardID: board, userID: caller.userID, minimum: .admin)
        if write && !caller.mayWrite { throw APIError.forbidden("This API token is read-only.") }
        return (board, caller.userID)
    }

    func validURL(_ url: String) throws -> String {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        let host: String
        do {
            host = try WebhookTargetGuard.parse(trimmed).host
        } catch {
            throw APIError.invalid("url", "url: \(error.message).")
        }
        // A literal internal address is refused now rather than at the first delivery. Names are
        // checked again at every delivery (their addresses can change).
        if !allowPrivateTargets, let address = IPAddress(host: host), let reason = address.internalReason {
            throw APIError.invalid("url", "url: \(address) is \(reason); such targets are refused unless webhooks.allow_private_targets is on.")
        }
        return trimmed
    }

    func validEvents(_ events: [String]) throws -> [String] {
        guard events.count <= WebhookRules.maximumEventKinds else {
            throw APIError.invalid("events", "events may list at most \(WebhookRules.maximumEventKinds) kinds.")
        }
        for (index, kind) in events.enumerated() where !BoardEventKinds.contains(kind) {
            throw APIError.invalid(
                "events[\(index)]",
                "events[\(index)] is not an event kind; the kinds are \(BoardEventKinds.all.joined(separator: ", "))."
            )
        }
        return Array(Set(events)).sorted()
    }

    func validSecret(_ secret: String) throws -> String {
        guard WebhookRules.secretLength.contains(secret.count), !secret.contains(where: \.isWhitespace) else {
            throw APIError.invalid(
                "secret",
                "secret must be \(WebhookRules.secretLength.lowerBound) to \(WebhookRules.secretLength.upperBound) characters without spaces."
            )
        }
        return secret
    }

    @Sendable func list(_ request: Request, context: TackRequestContext) async throws -> List {
        let (board, _) = try await administeredBoard(context, write: false)
        return List(items: try await store.list(boardID: board))
    }

    @Sendable func create(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Created> {
        let (board, user) = try await administeredBoard(context, write: true)
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        let url = try validURL(body.url)
        let secret = try body.secret.map(validSecret) ?? WebhookSignature.freshSecret()
        let webhook = try await store.create(
            boardID: board,
            creatorID: user,
            url: url,
            secret: secret,
            events: try validEvents(body.events ?? []),
            active: body.active ?? true
        )
        return EditedResponse(
            status: .created,
            response: Created(webhook: webhook, secret: secret, standardSecret: WebhookSignature.standardSecret(for: secret))
        )
    }

    @Sendable func get(_ request: Request, context: TackRequestContext) async throws -> One {
        let (board, _) = try await administeredBoard(context, write: false)
        return One(webhook: try await store.get(boardID: board, webhookID: try context.pathID("webhook")))
    }

    @Sendable func update(_ request: Request, context: TackRequestContext) async throws -> One {
        let (board, _) = try await administeredBoard(context, write: true)
        let body = try await JSONBody.decode(UpdateRequest.self, from: request, context: context)
        var url: String?
        if let given = body.url { url = try validURL(given) }
        let webhook = try await store.update(
            boardID: board,
            webhookID: try context.pathID("webhook"),
            url: url,
            secret: try body.secret.map(validSecret),
            events: try body.events.map(validEvents),
            active: body.active
        )
        return One(webhook: webhook)
    }

    @Sendable func delete(_ request: Request, context: TackRequestContext) async throws -> HTTPResponse.Status {
        let (board, _) = try await administeredBoard(context, write: true)
        try await store.delete(boardID: board, webhookID: try context.pathID("webhook"))
        return .noContent
    }

    @Sendable func deliveries(_ request: Request, context: TackRequestContext) async throws -> Deliveries {
        let (board, _) = try await administeredBoard(context, write: false)
        let webhook = try await store.get(boardID: board, webhookID: try context.pathID("webhook"))
        let limit = try request.limit()
        let before = try request.cursor("before")
        let items = try await store.deliveries(webhookID: webhook.id, limit: limit, before: before)
        return Deliveries(items: items, nextCursor: items.count == limit ? items.last?.eventVersion : nil)
    }
}

extension Webhook: ResponseEncodable {}
