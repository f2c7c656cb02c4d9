import Foundation
import PostgresNIO

/// A checklist of a card: a title and ordered items.
public struct Checklist: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Card.
    public var cardID: Int64
    /// Title.
    public var title: String
    /// Ordering key among the card's checklists (see `Position`).
    public var position: String
    /// The board version at which its title or place last changed (its `ETag`).
    public var version: Int64
    /// Items in order.
    public var items: [ChecklistItem]
}

/// One item of a checklist.
public struct ChecklistItem: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Checklist.
    public var checklistID: Int64
    /// Card.
    public var cardID: Int64
    /// Text (Markdown inline).
    public var text: String
    /// Ordering key within the checklist.
    public var position: String
    /// Ticked.
    public var done: Bool
    /// The member it is given to, if any.
    public var assigneeID: Int64?
    /// Due day or time, if any.
    public var dueAt: Date?
    /// The board version at which it last changed (its `ETag`).
    public var version: Int64
}

/// A card's checklist progress: items ticked of all items, over all its checklists.
public struct ChecklistProgress: Codable, Sendable, Equatable {
    /// Items.
    public var total: Int
    /// Ticked items.
    public var done: Int
}

/// What a new checklist item holds.
public struct NewChecklistItem: Sendable {
    /// Text.
    public var text: String
    /// Ticked already.
    public var done: Bool
    /// The member it is given to.
    public var assigneeID: Int64?
    /// Due day or time.
    public var dueAt: Date?

    /// Creates one.
    public init(text: String, done: Bool = false, assigneeID: Int64? = nil, dueAt: Date? = nil) {
        self.text = text
        self.done = done
        self.assigneeID = assigneeID
        self.dueAt = dueAt
    }
}

/// A change to a checklist item; nil leaves a field as it is.
public struct ChecklistItemChanges: Sendable {
    /// New text.
    public var text: String?
    /// Tick or untick.
    public var done: Bool?
    /// Give to a member (`.some(nil)` takes it back).
    public var assigneeID: Int64??
    /// Set (`.some(nil)` clears) the due date.
    public var dueAt: Date??
    /// Move to this checklist of the same card.
    public var checklistID: Int64?
    /// Move to this place (0 first) in its (new) checklist.
    public var index: Int?
    /// Replace typed values only if the item is still at this version (412 otherwise).
    public var expectedVersion: Int64?

    /// No change.
    public init() {}
}

extension BoardStore {
    /// The checklists of a card with their items, in order; 404 for a card not on the board.
    public func checklists(boardID: Int64, cardID: Int64) async throws -> [Checklist] {
        try await postgres.withBoundedConnection(logger: logger) { connection in
            guard try await self.cardExists(boardID: boardID, cardID: cardID, on: connection) else { throw BoardError(.notFound("card")) }
            return try await self.checklists(boardID: boardID, cardID: cardID, checklistID: nil, on: connection)
        }
    }

    /// Adds a checklist at the end of the card's, with `items` (texts) in order.
    public func createChecklist(
        boardID: Int64,
        cardID: Int64,
        actorID: Int64,
        title: String,
        items: [NewChecklistItem]
    ) async throws -> (Checklist, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Checklist, BoardEventDraft) in
            let tx = write.tx
            guard try await self.cardExists(boardID: boardID, cardID: cardID, on: tx) else { throw BoardError(.notFound("card")) }
            let existing = try await self.checklists(boardID: boardID, cardID: cardID, checklistID: nil, on: tx)
            guard existing.count < BoardRules.checklistsPerCard else {
                throw BoardError(.conflict(code: "too_many_checklists", message: "A card holds at most \(BoardRules.checklistsPerCard) checklists."))
            }
            try await self.requireAssignees(items.compactMap(\.assigneeID), boardID: boardID, on: tx)
            let rows = try await tx.query(
                """
                INSERT INTO checklists (board_id, card_id, title, position, version)
                VALUES (\(boardID), \(cardID), \(title), \(Position.between(existing.last?.position, nil)), \(write.version))
                RETURNING id
                """,
                logger: logger
            )
            var checklistID: Int64 = 0
            for try await id in rows.decode(Int64.self) { checklistID = id }
            try await self.insertItems(items, boardID: boardID, cardID: cardID, checklistID: checklistID, after: nil, version: write.version, on: tx)
            let checklist = try await self.checklists(boardID: boardID, cardID: cardID, checklistID: checklistID, on: tx)[0]
            let progress = try await self.checklistProgress(cardID: cardID, on: tx)
            return (checklist, BoardEventDraft(kind: "checklist.created", cardID: cardID, payload: WithProgress(checklist, progress)))
        }
    }

    /// Renames and/or moves a checklist among its card's; a new title only if the checklist is
    /// still at `expectedVersion` when one is given (412 otherwise).
    public func updateChecklist(
        boardID: Int64,
        checklistID: Int64,
        actorID: Int64,
        title: String?,
        index: Int?,
        expectedVersion: Int64?
    ) async throws -> (Checklist, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Checklist, BoardEventDraft) in
            let tx = write.tx
            let current = try await self.checklist(boardID: boardID, checklistID: checklistID, on: tx)
            try Self.require(title == nil ? nil : expectedVersion, matches: current, version: current.version, key: "checklist")
            var position = current.position
            if let index {
                let others = try await self.checklists(boardID: boardID, cardID: current.cardID, checklistID: nil, on: tx)
                    .filter { $0.id != checklistID }.map(\.position)
                position = Self.slot(among: others, index: index)
            }
            try await tx.query(
                """
                UPDATE checklists SET title = COALESCE(\(title), title), position = \(position), version = \(write.version)
                WHERE id = \(checklistID)
                """,
                logger: logger
            )
            let checklist = try await self.checklists(boardID: boardID, cardID: current.cardID, checklistID: checklistID, on: tx)[0]
            let progress = try await self.checklistProgress(cardID: current.cardID, on: tx)
            return (checklist, BoardEventDraft(kind: "checklist.updated", cardID: current.cardID, payload: WithProgress(checklist, progress)))
        }
    }

    /// Deletes a checklist and its items.
    public func deleteChecklist(boardID: Int64, checklistID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Void, BoardEventDraft) in
            let current = try await self.checklist(boardID: boardID, checklistID: checklistID, on: write.tx)
            try await write.tx.query("DELETE FROM checklists WHERE id = \(checklistID)", logger: logger)
            let progress = try await self.checklistProgress(cardID: current.cardID, on: write.tx)
            return ((), BoardEventDraft(kind: "checklist.deleted", cardID: current.cardID, payload: WithProgress(Deleted(id: checklistID), progress)))
        }.1
    }

    /// Adds an item to a checklist, at `index` (0 first) or at the end.
    public func createChecklistItem(
        boardID: Int64,
        checklistID: Int64,
        actorID: Int64,
        item: NewChecklistItem,
        index: Int?
    ) async throws -> (ChecklistItem, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (ChecklistItem, BoardEventDraft) in
            let tx = write.tx
            let checklist = try await self.checklist(boardID: boardID, checklistID: checklistID, on: tx)
            guard checklist.items.count < BoardRules.itemsPerChecklist else {
                throw BoardError(.conflict(code: "too_many_items", message: "A checklist holds at most \(BoardRules.itemsPerChecklist) items."))
            }
            try await self.requireAssignees(item.assigneeID.map { [$0] } ?? [], boardID: boardID, on: tx)
            let position = Self.slot(among: checklist.items.map(\.position), index: index ?? Int.max)
            let rows = try await tx.query(
                """
                INSERT INTO checklist_items (board_id, card_id, checklist_id, text, position, done, assignee_id, due_at, version)
                VALUES (\(boardID), \(checklist.cardID), \(checklistID), \(item.text), \(position), \(item.done), \(item.assigneeID),
                        \(item.dueAt), \(write.version))
                RETURNING id
                """,
                logger: logger
            )
            var itemID: Int64 = 0
            for try await id in rows.decode(Int64.self) { itemID = id }
            let created = try await self.checklistItem(boardID: boardID, itemID: itemID, on: tx)
            let progress = try await self.checklistProgress(cardID: checklist.cardID, on: tx)
            return (created, BoardEventDraft(kind: "checklist_item.created", cardID: checklist.cardID, payload: WithProgress(created, progress)))
        }
    }

    /// Edits, ticks, gives, dates and/or moves an item. A new text needs the item to be still at
    /// `changes.expectedVersion` when one is given (412 otherwise); ticking and moving merge with
    /// concurrent changes. A move stays on the item's card.
    public func updateChecklistItem(
        boardID: Int64,
        itemID: Int64,
        actorID: Int64,
        changes: ChecklistItemChanges
    ) async throws -> (
        ChecklistItem, BoardEvent
    ) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (ChecklistItem, BoardEventDraft) in
            let tx = write.tx
            let current = try await self.checklistItem(boardID: boardID, itemID: itemID, on: tx)
            let typed = changes.text != nil || changes.assigneeID != nil || changes.dueAt != nil
            try Self.require(typed ? changes.expectedVersion : nil, matches: current, version: current.version, key: "item")
            if case .some(.some(let assignee)) = changes.assigneeID { try await self.requireAssignees([assignee], boardID: boardID, on: tx) }
            var checklistID = current.checklistID
            var position = current.position
            if changes.checklistID != nil || changes.index != nil {
                let target = try await self.checklist(boardID: boardID, checklistID: changes.checklistID ?? current.checklistID, on: tx)
                guard target.cardID == current.cardID else {
                    throw BoardError(.invalid(field: "checklist_id", message: "checklist_id must be a checklist of the item's card."))
                }
                if target.id != current.checklistID, target.items.count >= BoardRules.itemsPerChecklist {
                    throw BoardError(.conflict(code: "too_many_items", message: "A checklist holds at most \(BoardRules.itemsPerChecklist) items."))
                }
                checklistID = target.id
                position = Self.slot(among: target.items.filter { $0.id != itemID }.map(\.position), index: changes.index ?? Int.max)
            }
            let clearAssignee = changes.assigneeID.map { $0 == nil } ?? false
            let clearDue = changes.dueAt.map { $0 == nil } ?? false
            try await tx.query(
                """
                UPDATE checklist_items SET
                    text = COALESCE(\(changes.text), text),
                    done = COALESCE(\(changes.done), done),
                    assignee_id = CASE WHEN \(clearAssignee) THEN NULL ELSE COALESCE(\(changes.assigneeID ?? nil), assignee_id) END,
                    due_at = CASE WHEN \(clearDue) THEN NULL ELSE COALESCE(\(changes.dueAt ?? nil), due_at) END,
                    checklist_id = \(checklistID),
                    position = \(position),
                    version = \(write.version)
                WHERE id = \(itemID)
                """,
                logger: logger
            )
            let item = try await self.checklistItem(boardID: boardID, itemID: itemID, on: tx)
            let progress = try await self.checklistProgress(cardID: current.cardID, on: tx)
            return (item, BoardEventDraft(kind: "checklist_item.updated", cardID: current.cardID, payload: WithProgress(item, progress)))
        }
    }

    /// Deletes an item.
    public func deleteChecklistItem(boardID: Int64, itemID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Void, BoardEventDraft) in
            let current = try await self.checklistItem(boardID: boardID, itemID: itemID, on: write.tx)
            try await write.tx.query("DELETE FROM checklist_items WHERE id = \(itemID)", logger: logger)
            let progress = try await self.checklistProgress(cardID: current.cardID, on: write.tx)
            let payload = WithProgress(DeletedItem(id: itemID, checklistID: current.checklistID), progress)
            return ((), BoardEventDraft(kind: "checklist_item.deleted", cardID: current.cardID, payload: payload))
        }.1
    }

    // MARK: - Reads and steps shared by the writes (and by the Trello import)

    /// Inserts items at the end of a checklist (after the key `after`), in order, in one statement
    /// (arrays cannot hold NULL here: no assignee is 0, no due date is '').
    func insertItems(
        _ items: [NewChecklistItem],
        boardID: Int64,
        cardID: Int64,
        checklistID: Int64,
        after: String?,
        version: Int64,
        on tx: PostgresConnection
    ) async throws {
        guard !items.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO checklist_items (board_id, card_id, checklist_id, text, position, done, assignee_id, due_at, version)
            SELECT \(boardID), \(cardID), \(checklistID), t.text, t.position, t.done, NULLIF(t.assignee, 0),
                   NULLIF(t.due, '')::TIMESTAMPTZ, \(version)
            FROM unnest(\(items.map(\.text))::TEXT[], \(Position.sequence(count: items.count, after: after))::TEXT[],
                        \(items.map(\.done))::BOOLEAN[], \(items.map { $0.assigneeID ?? 0 })::BIGINT[],
                        \(items.map { Self.dateText($0.dueAt) })::TEXT[])
                 AS t(text, position, done, assignee, due)
            """,
            logger: logger
        )
    }

    /// Checklists of a card (or the one `checklistID`, of any card of the board when `cardID` is nil)
    /// with their items, in order.
    func checklists(boardID: Int64, cardID: Int64?, checklistID: Int64?, on connection: PostgresConnection) async throws -> [Checklist] {
        let rows = try await connection.query(
            """
            SELECT l.id, l.card_id, l.title, l.position, l.version,
                   i.id, i.text, i.position, i.done, i.assignee_id, i.due_at, i.version
            FROM checklists l LEFT JOIN checklist_items i ON i.checklist_id = l.id
            WHERE l.board_id = \(boardID) AND (\(cardID)::BIGINT IS NULL OR l.card_id = \(cardID))
              AND (\(checklistID)::BIGINT IS NULL OR l.id = \(checklistID))
            ORDER BY l.position, l.id, i.position, i.id
            """,
            logger: logger
        )
        var result: [Checklist] = []
        for try await row in rows.decode((Int64, Int64, String, String, Int64, Int64?, String?, String?, Bool?, Int64?, Date?, Int64?).self) {
            if result.last?.id != row.0 {
                result.append(Checklist(id: row.0, cardID: row.1, title: row.2, position: row.3, version: row.4, items: []))
            }
            if let itemID = row.5, let text = row.6, let position = row.7, let done = row.8, let version = row.11 {
                result[result.count - 1].items.append(
                    ChecklistItem(
                        id: itemID,
                        checklistID: row.0,
                        cardID: row.1,
                        text: text,
                        position: position,
                        done: done,
                        assigneeID: row.9,
                        dueAt: row.10,
                        version: version
                    )
                )
            }
        }
        return result
    }

    private func checklist(boardID: Int64, checklistID: Int64, on tx: PostgresConnection) async throws -> Checklist {
        guard let checklist = try await checklists(boardID: boardID, cardID: nil, checklistID: checklistID, on: tx).first else {
            throw BoardError(.notFound("checklist"))
        }
        return checklist
    }

    private func checklistItem(boardID: Int64, itemID: Int64, on tx: PostgresConnection) async throws -> ChecklistItem {
        let rows = try await tx.query(
            """
            SELECT id, checklist_id, card_id, text, position, done, assignee_id, due_at, version
            FROM checklist_items WHERE id = \(itemID) AND board_id = \(boardID)
            """,
            logger: logger
        )
        for try await row in rows.decode((Int64, Int64, Int64, String, String, Bool, Int64?, Date?, Int64).self) {
            return ChecklistItem(
                id: row.0,
                checklistID: row.1,
                cardID: row.2,
                text: row.3,
                position: row.4,
                done: row.5,
                assigneeID: row.6,
                dueAt: row.7,
                version: row.8
            )
        }
        throw BoardError(.notFound("item"))
    }

    private func checklistProgress(cardID: Int64, on tx: PostgresConnection) async throws -> ChecklistProgress {
        let rows = try await tx.query(
            "SELECT count(*)::BIGINT, count(*) FILTER (WHERE done)::BIGINT FROM checklist_items WHERE card_id = \(cardID)",
            logger: logger
        )
        for try await (total, done) in rows.decode((Int64, Int64).self) { return ChecklistProgress(total: Int(total), done: Int(done)) }
        return ChecklistProgress(total: 0, done: 0)
    }

    private func cardExists(boardID: Int64, cardID: Int64, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT 1::BIGINT FROM cards WHERE id = \(cardID) AND board_id = \(boardID)", logger: logger)
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// Every id must be a member of the board (an item is given to a member).
    private func requireAssignees(_ ids: [Int64], boardID: Int64, on tx: PostgresConnection) async throws {
        try await requireMembers(ids, boardID: boardID, field: "assignee_id", message: "assignee_id must be a member of the board.", on: tx)
    }

    /// The key that puts an object at `index` (0 first, past the end = last) among `keys` (in order).
    static func slot(among keys: [String], index: Int) -> String {
        let at = max(0, min(index, keys.count))
        return Position.between(at == 0 ? nil : keys[at - 1], at == keys.count ? nil : keys[at])
    }
}

/// An event payload: the object's own fields and `card_progress`, the card's checklist progress
/// after the change (so every page updates the card front from the event alone).
struct WithProgress<Object: Encodable & Sendable>: Encodable, Sendable {
    let object: Object
    let progress: ChecklistProgress

    init(_ object: Object, _ progress: ChecklistProgress) {
        self.object = object
        self.progress = progress
    }

    enum CodingKeys: String, CodingKey { case cardProgress }

    func encode(to encoder: any Encoder) throws {
        try object.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(progress, forKey: .cardProgress)
    }
}

private struct Deleted: Encodable, Sendable {
    let id: Int64
}

private struct DeletedItem: Encodable, Sendable {
    let id: Int64
    let checklistID: Int64
}
