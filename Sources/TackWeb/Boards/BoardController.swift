import Foundation
import Hummingbird
import Logging
import NIOCore
import TackCore

/// `/api/v1/boards…`: boards, members, columns, cards, comments, checklists, labels, events and search.
///
/// Reads need any role on the board, writes need `member` (settings and members: `admin`); the
/// store re-checks the role inside each write's transaction. A non-member gets 404, never 403, so
/// board ids reveal nothing.
struct BoardController: Sendable {
    let store: BoardStore
    let events: EventLog
    /// Encoded snapshots by board version (this process's; see `SnapshotCache`).
    let snapshots: SnapshotCache<ByteBuffer>
    /// The files of deleted attachments go right after a delete of a card, column or board.
    let attachmentFiles: AttachmentFiles

    /// A write's answer: the resource, the board version the write produced and its event (as push
    /// sends it, so a page applies its own writes and pushed ones alike), with the resource's
    /// version as `ETag` when it has one.
    struct Written<Resource: Encodable & Sendable>: ResponseGenerator, Encodable, Sendable {
        let resource: Resource
        let key: String
        let event: BoardEvent
        /// The resource's own version (its `ETag`), if it has one.
        let etag: Int64?

        init(_ resource: Resource, key: String, event: BoardEvent, etag: Int64?) {
            self.resource = resource
            self.key = key
            self.event = event
            self.etag = etag
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: DynamicKey.self)
            try c.encode(resource, forKey: DynamicKey(key))
            try c.encode(event.version, forKey: DynamicKey("version"))
            try c.encode(try StrictJSON.parse(event.message, limits: .stored), forKey: DynamicKey("event"))
        }

        func response(from request: Request, context: some RequestContext) throws -> Response {
            var response = try context.responseEncoder.encode(self, from: request, context: context)
            if let etag { response.headers[.eTag] = ETag.header(etag) }
            return response
        }
    }

    /// The answer of a delete: the board version it produced and its event.
    struct Deleted: ResponseEncodable, Sendable {
        let event: BoardEvent

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: DynamicKey.self)
            try c.encode(event.version, forKey: DynamicKey("version"))
            try c.encode(try StrictJSON.parse(event.message, limits: .stored), forKey: DynamicKey("event"))
        }
    }

    /// A page of a list.
    struct Page<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
        let items: [Item]
        let nextCursor: Int64?

    }

    struct EventPage: ResponseEncodable, Sendable {
        let events: [EventJSON]
        let lastVersion: Int64
        let hasMore: Bool

    }

    /// An event as clients see it (the stored payload is embedded as JSON, not as a string).
    struct EventJSON: Encodable, Sendable {
        let event: BoardEvent

        enum CodingKeys: CodingKey {
            case boardID, version, id, kind, actorID, cardID, createdAt, payload
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(event.boardID, forKey: .boardID)
            try c.encode(event.version, forKey: .version)
            try c.encode(event.idString, forKey: .id)
            try c.encode(event.kind, forKey: .kind)
            try c.encode(event.actorID, forKey: .actorID)
            try c.encode(event.cardID, forKey: .cardID)
            try c.encode(event.createdAt, forKey: .createdAt)
            try c.encode(try StrictJSON.parse(event.payload, limits: .stored), forKey: .payload)
        }
    }

    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/boards", use: listBoards)
        api.post("/boards", use: createBoard)
        api.get("/boards/{board}", use: snapshot)
        api.patch("/boards/{board}", use: updateBoard)
        api.delete("/boards/{board}", use: deleteBoard)
        api.get("/boards/{board}/events", use: listEvents)
        api.get("/search", use: searchAll)
        api.get("/boards/{board}/search", use: search)

        api.get("/boards/{board}/members", use: listMembers)
        api.put("/boards/{board}/members", use: setMember)
        api.delete("/boards/{board}/members/{user}", use: removeMember)

        api.get("/boards/{board}/columns", use: listColumns)
        api.post("/boards/{board}/columns", use: createColumn)
        api.patch("/boards/{board}/columns/{column}", use: updateColumn)
        api.delete("/boards/{board}/columns/{column}", use: deleteColumn)

        api.get("/boards/{board}/cards", use: listCards)
        api.post("/boards/{board}/cards", use: createCard)
        api.get("/boards/{board}/cards/{card}", use: getCard)
        api.patch("/boards/{board}/cards/{card}", use: updateCard)
        api.post("/boards/{board}/cards/{card}/move", use: moveCard)
        api.delete("/boards/{board}/cards/{card}", use: deleteCard)
        api.get("/boards/{board}/cards/{card}/history", use: cardHistory)
        api.get("/boards/{board}/cards/{card}/comments", use: listComments)
        api.post("/boards/{board}/cards/{card}/comments", use: createComment)
        api.patch("/boards/{board}/comments/{comment}", use: updateComment)
        api.delete("/boards/{board}/comments/{comment}", use: deleteComment)
        addChecklistRoutes(to: api)

        api.get("/boards/{board}/labels", use: listLabels)
        api.post("/boards/{board}/labels", use: createLabel)
        api.patch("/boards/{board}/labels/{label}", use: updateLabel)
        api.delete("/boards/{board}/labels/{label}", use: deleteLabel)
    }

    // MARK: - Helpers

    /// The caller, who must be allowed to write (session, or a read-write token).
    func writer(_ context: TackRequestContext) throws -> Caller {
        let caller = try context.requireCaller()
        guard caller.mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        return caller
    }

    func reader(_ boardID: Int64, _ context: TackRequestContext) async throws -> Caller {
        let caller = try context.requireCaller()
        _ = try await store.requireRole(boardID: boardID, userID: caller.userID, minimum: .viewer)
        return caller
    }

    // MARK: - Boards

    @Sendable func listBoards(_ request: Request, context: TackRequestContext) async throws -> Page<Board> {
        let caller = try context.requireCaller()
        let limit = try request.limit()
        let archived = try request.flag("archived") ?? false
        let boards = try await store.boards(userID: caller.userID, includeArchived: archived, limit: limit, before: try request.cursor("before"))
        return Page(items: boards, nextCursor: boards.count == limit ? boards.last?.id : nil)
    }

    @Sendable func createBoard(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<Board>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CreateBoardRequest.self, from: request, context: context)
        let name = try Validate.text(body.name, field: "name", max: BoardRules.boardNameLength)
        let description = try Validate.text(body.description ?? "", field: "description", min: 0, max: BoardRules.boardDescriptionLength)
        let (board, event) = try await store.createBoard(name: name, description: description, creatorID: caller.userID)
        return EditedResponse(status: .created, response: Written(board, key: "board", event: event, etag: board.changedVersion))
    }

    /// The board's snapshot: one access check (which gives the current version), then the body
    /// cached for that version and the caller's role, or a fresh read that is cached in turn.
    @Sendable func snapshot(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let boardID = try context.pathID("board")
        guard let access = try await store.access(boardID: boardID, userID: caller.userID) else { throw BoardError(.notFound("board")) }
        let body: ByteBuffer
        if let cached = snapshots.body(boardID: boardID, version: access.version, role: access.role) {
            body = cached
        } else {
            let snapshot = try await store.snapshot(boardID: boardID, userID: caller.userID)
            body = ByteBuffer(bytes: try context.responseEncoder.encode(snapshot))
            snapshots.store(body, boardID: boardID, version: snapshot.board.version, role: snapshot.board.role)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes)],
            body: .init(byteBuffer: body)
        )
    }

    @Sendable func updateBoard(_ request: Request, context: TackRequestContext) async throws -> Written<Board> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateBoardRequest.self, from: request, context: context)
        let name = try body.name.map { try Validate.text($0, field: "name", max: BoardRules.boardNameLength) }
        let description = try body.description.map { try Validate.text($0, field: "description", min: 0, max: BoardRules.boardDescriptionLength) }
        let (board, event) = try await store.updateBoard(
            boardID: try context.pathID("board"),
            actorID: caller.userID,
            name: name,
            description: description,
            archived: body.archived,
            expectedVersion: try ETag.expectedVersion(request, body: body.expectedVersion)
        )
        return Written(board, key: "board", event: event, etag: board.changedVersion)
    }

    @Sendable func deleteBoard(_ request: Request, context: TackRequestContext) async throws -> HTTPResponse.Status {
        let caller = try writer(context)
        try await store.deleteBoard(boardID: try context.pathID("board"), actorID: caller.userID)
        await AttachmentController.purge(attachmentFiles, context: context)
        return .noContent
    }

    @Sendable func listEvents(_ request: Request, context: TackRequestContext) async throws -> EventPage {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        let after = try request.cursor("after") ?? 0
        let limit = try request.limit(.events)
        let page = try await events.events(boardID: boardID, after: after, limit: limit + 1)
        let items = Array(page.prefix(limit))
        return EventPage(events: items.map(EventJSON.init), lastVersion: items.last?.version ?? after, hasMore: page.count > limit)
    }

    @Sendable func search(_ request: Request, context: TackRequestContext) async throws -> Page<Card> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        return Page(items: try await store.search(boardID: boardID, query: try Self.searchText(request), limit: try request.limit()), nextCursor: nil)
    }

    /// `GET /boards/{board}/cards[?archived=true]`: the board's cards, or its archived ones.
    @Sendable func listCards(_ request: Request, context: TackRequestContext) async throws -> Page<Card> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        let archived = try request.flag("archived") ?? false
        return Page(items: try await store.cards(boardID: boardID, archived: archived, limit: try request.limit()), nextCursor: nil)
    }

    /// `GET /search?q=`: cards on every board the caller is a member of.
    @Sendable func searchAll(_ request: Request, context: TackRequestContext) async throws -> Page<SearchHit> {
        let caller = try context.requireCaller()
        let hits = try await store.search(userID: caller.userID, query: try Self.searchText(request), limit: try request.limit())
        return Page(items: hits, nextCursor: nil)
    }

    /// The `q` of a search: 1 to 200 characters, not only white space.
    static func searchText(_ request: Request) throws -> String {
        guard let query = request.uri.queryParameters.get("q"), !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
            query.count <= BoardRules.searchQueryLength
        else {
            throw APIError.invalid("q", "q must be 1 to 200 characters of text to search for.")
        }
        return query
    }

    // MARK: - Members

    @Sendable func listMembers(_ request: Request, context: TackRequestContext) async throws -> Page<BoardMember> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        return Page(items: try await store.members(boardID: boardID), nextCursor: nil)
    }

    @Sendable func setMember(_ request: Request, context: TackRequestContext) async throws -> Written<BoardMember> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(SetMemberRequest.self, from: request, context: context)
        let email = try Validate.text(body.email, field: "email", max: BoardRules.memberEmailLength)
        let (member, event) = try await store.setMember(boardID: try context.pathID("board"), actorID: caller.userID, email: email, role: body.role)
        return Written(member, key: "member", event: event, etag: nil)
    }

    @Sendable func removeMember(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.removeMember(boardID: try context.pathID("board"), actorID: caller.userID, userID: try context.pathID("user"))
        return Deleted(event: event)
    }

    // MARK: - Columns

    /// `GET /boards/{board}/columns[?archived=true]`: the board's columns, or its archived ones.
    @Sendable func listColumns(_ request: Request, context: TackRequestContext) async throws -> Page<BoardColumn> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        let archived = try request.flag("archived") ?? false
        return Page(items: try await store.columns(boardID: boardID, archived: archived), nextCursor: nil)
    }

    @Sendable func createColumn(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<BoardColumn>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CreateColumnRequest.self, from: request, context: context)
        let name = try Validate.text(body.name, field: "name", max: BoardRules.columnNameLength)
        let wip = try body.wipLimit.map { try Validate.range($0, field: "wip_limit", 1...1000) }
        let index = try body.index.map { try Validate.range($0, field: "index", 0...100_000) }
        let (column, event) = try await store.createColumn(
            boardID: try context.pathID("board"),
            actorID: caller.userID,
            name: name,
            wipLimit: wip,
            index: index
        )
        return EditedResponse(status: .created, response: Written(column, key: "column", event: event, etag: column.version))
    }

    @Sendable func updateColumn(_ request: Request, context: TackRequestContext) async throws -> Written<BoardColumn> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateColumnRequest.self, from: request, context: context)
        let name = try body.name.map { try Validate.text($0, field: "name", max: BoardRules.columnNameLength) }
        let wip = try body.wipLimit.value.map { try Validate.range($0, field: "wip_limit", 1...1000) }
        let index = try body.index.map { try Validate.range($0, field: "index", 0...100_000) }
        let clear: Bool
        if case .null = body.wipLimit { clear = true } else { clear = false }
        let (column, event) = try await store.updateColumn(
            boardID: try context.pathID("board"),
            columnID: try context.pathID("column"),
            actorID: caller.userID,
            name: name,
            wipLimit: wip,
            clearWipLimit: clear,
            index: index,
            archived: body.archived,
            expectedVersion: try ETag.expectedVersion(request, body: body.expectedVersion)
        )
        return Written(column, key: "column", event: event, etag: column.version)
    }

    @Sendable func deleteColumn(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.deleteColumn(boardID: try context.pathID("board"), columnID: try context.pathID("column"), actorID: caller.userID)
        await AttachmentController.purge(attachmentFiles, context: context)
        return Deleted(event: event)
    }

    // MARK: - Cards

    @Sendable func createCard(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<Card>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CreateCardRequest.self, from: request, context: context)
        var changes = CardChanges()
        changes.dueAt = body.dueAt
        changes.dueHasTime = body.dueHasTime
        changes.done = body.done
        changes.assignees = try body.assignees.map { try Self.idList($0, field: "assignees") }
        changes.labels = try body.labels.map { try Self.idList($0, field: "labels") }
        let (card, event) = try await store.createCard(
            boardID: try context.pathID("board"),
            actorID: caller.userID,
            columnID: body.columnID,
            title: try Validate.text(body.title, field: "title", max: BoardRules.cardTitleLength),
            description: try Validate.text(body.description ?? "", field: "description", min: 0, max: BoardRules.cardDescriptionLength),
            index: try body.index.map { try Validate.range($0, field: "index", 0...1_000_000) },
            changes: changes
        )
        return EditedResponse(status: .created, response: Written(card, key: "card", event: event, etag: card.version))
    }

    @Sendable func getCard(_ request: Request, context: TackRequestContext) async throws -> Response {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        let card = try await store.card(boardID: boardID, cardID: try context.pathID("card"))
        var response = try card.response(from: request, context: context)
        response.headers[.eTag] = ETag.header(card.version)
        return response
    }

    @Sendable func updateCard(_ request: Request, context: TackRequestContext) async throws -> Written<Card> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateCardRequest.self, from: request, context: context)
        var changes = CardChanges()
        changes.title = try body.title.map { try Validate.text($0, field: "title", max: BoardRules.cardTitleLength) }
        changes.description = try body.description.map { try Validate.text($0, field: "description", min: 0, max: BoardRules.cardDescriptionLength) }
        switch body.dueAt {
        case .absent: break
        case .null: changes.clearDueAt = true
        case .value(let date): changes.dueAt = date
        }
        changes.dueHasTime = body.dueHasTime
        changes.done = body.done
        changes.archived = body.archived
        switch body.coverAttachmentID {
        case .absent: break
        case .null: changes.clearCover = true
        case .value(let id): changes.coverAttachmentID = id
        }
        changes.assignees = try body.assignees.map { try Self.idList($0, field: "assignees") }
        changes.labels = try body.labels.map { try Self.idList($0, field: "labels") }
        changes.addAssignees = try Self.idList(body.addAssignees ?? [], field: "add_assignees")
        changes.removeAssignees = try Self.idList(body.removeAssignees ?? [], field: "remove_assignees")
        changes.addLabels = try Self.idList(body.addLabels ?? [], field: "add_labels")
        changes.removeLabels = try Self.idList(body.removeLabels ?? [], field: "remove_labels")
        if body.assignees != nil, body.addAssignees != nil || body.removeAssignees != nil {
            throw APIError.invalid("assignees", "assignees replaces the whole set; send it or add_assignees/remove_assignees, not both.")
        }
        if body.labels != nil, body.addLabels != nil || body.removeLabels != nil {
            throw APIError.invalid("labels", "labels replaces the whole set; send it or add_labels/remove_labels, not both.")
        }
        changes.expectedVersion = try ETag.expectedVersion(request, body: body.expectedVersion)
        let (card, event) = try await store.updateCard(
            boardID: try context.pathID("board"),
            cardID: try context.pathID("card"),
            actorID: caller.userID,
            changes: changes
        )
        return Written(card, key: "card", event: event, etag: card.version)
    }

    @Sendable func moveCard(_ request: Request, context: TackRequestContext) async throws -> Written<Card> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(MoveCardRequest.self, from: request, context: context)
        var changes = CardChanges()
        changes.columnID = body.columnID
        switch (body.after, body.before) {
        case (nil, nil):
            guard body.columnID != nil else {
                throw APIError.invalid("column_id", "Name where the card goes: column_id (with index), after or before.")
            }
            changes.index = try body.index.map { try Validate.range($0, field: "index", 0...1_000_000) } ?? Int.max
        case (let after?, nil) where body.index == nil: changes.after = after
        case (nil, let before?) where body.index == nil: changes.before = before
        case (_?, _?): throw APIError.invalid("before", "Send after or before, not both.")
        default: throw APIError.invalid("index", "index goes with column_id, not with after or before.")
        }
        let (card, event) = try await store.updateCard(
            boardID: try context.pathID("board"),
            cardID: try context.pathID("card"),
            actorID: caller.userID,
            changes: changes
        )
        return Written(card, key: "card", event: event, etag: card.version)
    }

    @Sendable func deleteCard(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.deleteCard(boardID: try context.pathID("board"), cardID: try context.pathID("card"), actorID: caller.userID)
        await AttachmentController.purge(attachmentFiles, context: context)
        return Deleted(event: event)
    }

    @Sendable func cardHistory(_ request: Request, context: TackRequestContext) async throws -> EventPage {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        let cardID = try context.pathID("card")
        _ = try await store.card(boardID: boardID, cardID: cardID)
        let history = try await events.cardHistory(boardID: boardID, cardID: cardID, limit: try request.limit(.events))
        return EventPage(events: history.map(EventJSON.init), lastVersion: history.first?.version ?? 0, hasMore: false)
    }

    static func idList(_ ids: [Int64], field: String) throws -> [Int64] {
        guard ids.count <= BoardRules.idsPerChange else { throw APIError.invalid(field, "\(field) takes at most \(BoardRules.idsPerChange) ids.") }
        return ids
    }

    // MARK: - Comments

    @Sendable func listComments(_ request: Request, context: TackRequestContext) async throws -> Page<Comment> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        let limit = try request.limit()
        let cardID = try context.pathID("card")
        _ = try await store.card(boardID: boardID, cardID: cardID)  // 404 for a card that is not on the board, not an empty list
        let comments = try await store.comments(boardID: boardID, cardID: cardID, after: try request.cursor("after"), limit: limit)
        return Page(items: comments, nextCursor: comments.count == limit ? comments.last?.id : nil)
    }

    @Sendable func createComment(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<Comment>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CommentRequest.self, from: request, context: context)
        let text = try Validate.text(body.body, field: "body", max: BoardRules.commentLength)
        let (comment, event) = try await store.createComment(
            boardID: try context.pathID("board"),
            cardID: try context.pathID("card"),
            actorID: caller.userID,
            body: text
        )
        return EditedResponse(status: .created, response: Written(comment, key: "comment", event: event, etag: comment.version))
    }

    @Sendable func updateComment(_ request: Request, context: TackRequestContext) async throws -> Written<Comment> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateCommentRequest.self, from: request, context: context)
        let text = try Validate.text(body.body, field: "body", max: BoardRules.commentLength)
        let (comment, event) = try await store.updateComment(
            boardID: try context.pathID("board"),
            commentID: try context.pathID("comment"),
            actorID: caller.userID,
            body: text,
            expectedVersion: try ETag.expectedVersion(request, body: body.expectedVersion)
        )
        return Written(comment, key: "comment", event: event, etag: comment.version)
    }

    @Sendable func deleteComment(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.deleteComment(
            boardID: try context.pathID("board"),
            commentID: try context.pathID("comment"),
            actorID: caller.userID
        )
        return Deleted(event: event)
    }

    // MARK: - Labels

    @Sendable func listLabels(_ request: Request, context: TackRequestContext) async throws -> Page<Label> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        return Page(items: try await store.labels(boardID: boardID), nextCursor: nil)
    }

    @Sendable func createLabel(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<Label>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CreateLabelRequest.self, from: request, context: context)
        let (label, event) = try await store.createLabel(
            boardID: try context.pathID("board"),
            actorID: caller.userID,
            name: try Validate.text(body.name, field: "name", max: BoardRules.labelNameLength),
            color: try Validate.color(body.color, field: "color")
        )
        return EditedResponse(status: .created, response: Written(label, key: "label", event: event, etag: label.version))
    }

    @Sendable func updateLabel(_ request: Request, context: TackRequestContext) async throws -> Written<Label> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateLabelRequest.self, from: request, context: context)
        let (label, event) = try await store.updateLabel(
            boardID: try context.pathID("board"),
            labelID: try context.pathID("label"),
            actorID: caller.userID,
            name: try body.name.map { try Validate.text($0, field: "name", max: BoardRules.labelNameLength) },
            color: try body.color.map { try Validate.color($0, field: "color") },
            expectedVersion: try ETag.expectedVersion(request, body: body.expectedVersion)
        )
        return Written(label, key: "label", event: event, etag: label.version)
    }

    @Sendable func deleteLabel(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.deleteLabel(boardID: try context.pathID("board"), labelID: try context.pathID("label"), actorID: caller.userID)
        return Deleted(event: event)
    }
}

/// A coding key from a string, for responses whose keys depend on the resource.
struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
