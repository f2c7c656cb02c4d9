import Foundation
import Hummingbird
import TackCore

/// Checklists of cards and their items: list with the card, create, rename, reorder, tick, give,
/// date, move between a card's checklists, delete. Every write is a board event carrying the
/// card's new `card_progress`.
extension BoardController {
    func addChecklistRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/boards/{board}/cards/{card}/checklists", use: listChecklists)
        api.post("/boards/{board}/cards/{card}/checklists", use: createChecklist)
        api.patch("/boards/{board}/checklists/{checklist}", use: updateChecklist)
        api.delete("/boards/{board}/checklists/{checklist}", use: deleteChecklist)
        api.post("/boards/{board}/checklists/{checklist}/items", use: createChecklistItem)
        api.patch("/boards/{board}/checklist_items/{item}", use: updateChecklistItem)
        api.delete("/boards/{board}/checklist_items/{item}", use: deleteChecklistItem)
    }

    @Sendable func listChecklists(_ request: Request, context: TackRequestContext) async throws -> Page<Checklist> {
        let boardID = try context.pathID("board")
        _ = try await reader(boardID, context)
        return Page(items: try await store.checklists(boardID: boardID, cardID: try context.pathID("card")), nextCursor: nil)
    }

    @Sendable func createChecklist(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<Checklist>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CreateChecklistRequest.self, from: request, context: context)
        let requested = body.items ?? []
        guard requested.count <= BoardRules.itemsPerChecklist else {
            throw APIError.invalid("items", "items takes at most \(BoardRules.itemsPerChecklist) items.")
        }
        let items = try requested.enumerated().map { index, item in
            guard item.index == nil else {
                throw APIError.invalid("items[\(index)].index", "items are placed in the order sent; index is not taken here.")
            }
            return try Self.newItem(item, field: "items[\(index)].")
        }
        let (checklist, event) = try await store.createChecklist(
            boardID: try context.pathID("board"),
            cardID: try context.pathID("card"),
            actorID: caller.userID,
            title: try Validate.text(body.title, field: "title", max: BoardRules.checklistTitleLength),
            items: items
        )
        return EditedResponse(status: .created, response: Written(checklist, key: "checklist", event: event, etag: checklist.version))
    }

    @Sendable func updateChecklist(_ request: Request, context: TackRequestContext) async throws -> Written<Checklist> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateChecklistRequest.self, from: request, context: context)
        guard body.title != nil || body.index != nil else { throw APIError.invalid("title", "Send title and/or index.") }
        let (checklist, event) = try await store.updateChecklist(
            boardID: try context.pathID("board"),
            checklistID: try context.pathID("checklist"),
            actorID: caller.userID,
            title: try body.title.map { try Validate.text($0, field: "title", max: BoardRules.checklistTitleLength) },
            index: try body.index.map { try Validate.range($0, field: "index", 0...1_000_000) },
            expectedVersion: try ETag.expectedVersion(request, body: body.expectedVersion)
        )
        return Written(checklist, key: "checklist", event: event, etag: checklist.version)
    }

    @Sendable func deleteChecklist(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.deleteChecklist(
            boardID: try context.pathID("board"),
            checklistID: try context.pathID("checklist"),
            actorID: caller.userID
        )
        return Deleted(event: event)
    }

    @Sendable func createChecklistItem(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Written<ChecklistItem>> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(CreateChecklistItemRequest.self, from: request, context: context)
        let (item, event) = try await store.createChecklistItem(
            boardID: try context.pathID("board"),
            checklistID: try context.pathID("checklist"),
            actorID: caller.userID,
            item: try Self.newItem(body, field: ""),
            index: try body.index.map { try Validate.range($0, field: "index", 0...1_000_000) }
        )
        return EditedResponse(status: .created, response: Written(item, key: "item", event: event, etag: item.version))
    }

    @Sendable func updateChecklistItem(_ request: Request, context: TackRequestContext) async throws -> Written<ChecklistItem> {
        let caller = try writer(context)
        let body = try await JSONBody.decode(UpdateChecklistItemRequest.self, from: request, context: context)
        var changes = ChecklistItemChanges()
        changes.text = try body.text.map { try Validate.text($0, field: "text", max: BoardRules.checklistItemLength) }
        changes.done = body.done
        switch body.assigneeID {
        case .absent: break
        case .null: changes.assigneeID = .some(nil)
        case .value(let id): changes.assigneeID = .some(id)
        }
        switch body.dueAt {
        case .absent: break
        case .null: changes.dueAt = .some(nil)
        case .value(let date): changes.dueAt = .some(date)
        }
        changes.checklistID = body.checklistID
        changes.index = try body.index.map { try Validate.range($0, field: "index", 0...1_000_000) }
        changes.expectedVersion = try ETag.expectedVersion(request, body: body.expectedVersion)
        let (item, event) = try await store.updateChecklistItem(
            boardID: try context.pathID("board"),
            itemID: try context.pathID("item"),
            actorID: caller.userID,
            changes: changes
        )
        return Written(item, key: "item", event: event, etag: item.version)
    }

    @Sendable func deleteChecklistItem(_ request: Request, context: TackRequestContext) async throws -> Deleted {
        let caller = try writer(context)
        let event = try await store.deleteChecklistItem(
            boardID: try context.pathID("board"),
            itemID: try context.pathID("item"),
            actorID: caller.userID
        )
        return Deleted(event: event)
    }

    static func newItem(_ item: CreateChecklistItemRequest, field prefix: String) throws -> NewChecklistItem {
        NewChecklistItem(
            text: try Validate.text(item.text, field: prefix + "text", max: BoardRules.checklistItemLength),
            done: item.done ?? false,
            assigneeID: item.assigneeID,
            dueAt: item.dueAt
        )
    }
}
