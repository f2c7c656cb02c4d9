import Foundation
import PostgresNIO

/// The fields of a card a write may change; nil leaves a field as it is.
public struct CardChanges: Sendable {
    /// New title.
    public var title: String?
    /// New description.
    public var description: String?
    /// New due date; see `clearDueAt`.
    public var dueAt: Date?
    /// Removes the due date.
    public var clearDueAt = false
    /// Done flag.
    public var done: Bool?
    /// Archived flag.
    public var archived: Bool?
    /// Replaces the assignees (members of the board only).
    public var assignees: [Int64]?
    /// Replaces the labels (labels of the board only).
    public var labels: [Int64]?
    /// Moves the card to this column.
    public var columnID: Int64?
    /// Moves the card to this index in its (new) column.
    public var index: Int?

    /// No change.
    public init() {}
}

extension BoardStore {
    /// Creates a card in a column, at `index` (default: last).
    public func createCard(boardID: Int64, actorID: Int64, columnID: Int64, title: String, description: String, index: Int?, changes: CardChanges) async throws -> (Card, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { tx, _ -> (Card, BoardEventDraft) in
            let position = try await self.cardPosition(boardID: boardID, columnID: columnID, excluding: nil, index: index, on: tx)
            let rows = try await tx.query("""
                INSERT INTO cards (board_id, column_id, title, description, position, due_at, done, created_by)
                VALUES (\(boardID), \(columnID), \(title), \(description), \(position), \(changes.dueAt), \(changes.done ?? false), \(actorID))
                RETURNING id
                """, logger: logger)
            var id: Int64 = 0
            for try await value in rows.decode(Int64.self) { id = value }
            try await self.replaceAssigneesAndLabels(boardID: boardID, cardID: id, actorID: actorID, assignees: changes.assignees, labels: changes.labels, on: tx)
            guard let card = try await self.cards(boardID: boardID, cardID: id, includeArchived: true, on: tx).first else { throw BoardError(.notFound("card")) }
            return (card, BoardEventDraft(kind: "card.created", cardID: id, payload: card))
        }
    }

    /// Updates and/or moves a card.
    public func updateCard(boardID: Int64, cardID: Int64, actorID: Int64, changes: CardChanges) async throws -> (Card, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { tx, _ -> (Card, BoardEventDraft) in
            guard let before = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: tx).first else { throw BoardError(.notFound("card")) }
            var position = before.position
            let columnID = changes.columnID ?? before.columnID
            let moved = changes.columnID != nil || changes.index != nil
            if moved {
                position = try await self.cardPosition(boardID: boardID, columnID: columnID, excluding: cardID, index: changes.index, on: tx)
            }
            try await tx.query("""
                UPDATE cards SET
                    title = COALESCE(\(changes.title), title),
                    description = COALESCE(\(changes.description), description),
                    due_at = CASE WHEN \(changes.clearDueAt) THEN NULL ELSE COALESCE(\(changes.dueAt), due_at) END,
                    done = COALESCE(\(changes.done), done),
                    archived = COALESCE(\(changes.archived), archived),
                    column_id = \(columnID),
                    position = \(position),
                    updated_at = now()
                WHERE id = \(cardID) AND board_id = \(boardID)
                """, logger: logger)
            try await self.replaceAssigneesAndLabels(boardID: boardID, cardID: cardID, actorID: actorID, assignees: changes.assignees, labels: changes.labels,
                                                     previousAssignees: before.assignees, on: tx)
            guard let card = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: tx).first else { throw BoardError(.notFound("card")) }
            let kind = moved && changes.title == nil && changes.description == nil ? "card.moved" : "card.updated"
            return (card, BoardEventDraft(kind: kind, cardID: cardID, payload: card))
        }
    }

    /// Deletes a card and its comments.
    public func deleteCard(boardID: Int64, cardID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { tx, _ -> (Void, BoardEventDraft) in
            let rows = try await tx.query("DELETE FROM cards WHERE id = \(cardID) AND board_id = \(boardID) RETURNING id", logger: logger)
            var found = false
            for try await _ in rows.decode(Int64.self) { found = true }
            guard found else { throw BoardError(.notFound("card")) }
            return ((), BoardEventDraft(kind: "card.deleted", cardID: cardID, payload: ["id": cardID]))
        }.1
    }

    /// One card, archived included.
    public func card(boardID: Int64, cardID: Int64) async throws -> Card {
        try await postgres.withConnection { connection in
            guard let card = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: connection).first else {
                throw BoardError(.notFound("card"))
            }
            return card
        }
    }

    /// Cards whose title or description match `query` (all words, prefix match), best first.
    public func search(boardID: Int64, query: String, limit: Int) async throws -> [Card] {
        let words = query.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).prefix(16)
        guard !words.isEmpty else { return [] }
        // Each word becomes a quoted prefix lexeme, so the text is never parsed as tsquery syntax.
        let tsquery = words.map { "'" + $0.lowercased() + "':*" }.joined(separator: " & ")
        let rows = try await postgres.query("""
            SELECT id FROM cards
            WHERE board_id = \(boardID) AND search @@ to_tsquery('simple', \(tsquery))
            ORDER BY ts_rank(search, to_tsquery('simple', \(tsquery))) DESC, id DESC
            LIMIT \(limit)
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        guard !ids.isEmpty else { return [] }
        let all = try await postgres.withConnection { try await self.cards(boardID: boardID, cardID: nil, includeArchived: true, on: $0) }
        let byID = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
        return ids.compactMap { byID[$0] }
    }

    private func cardPosition(boardID: Int64, columnID: Int64, excluding cardID: Int64?, index: Int?, on tx: PostgresConnection) async throws -> String {
        let exists = try await tx.query("SELECT EXISTS (SELECT 1 FROM columns WHERE id = \(columnID) AND board_id = \(boardID))", logger: logger)
        for try await found in exists.decode(Bool.self) where !found {
            throw BoardError(.invalid(field: "column_id", message: "column_id is not a column of this board."))
        }
        let rows = try await tx.query("""
            SELECT position FROM cards
            WHERE column_id = \(columnID) AND NOT archived AND (\(cardID)::BIGINT IS NULL OR id <> \(cardID))
            ORDER BY position
            """, logger: logger)
        var positions: [String] = []
        for try await p in rows.decode(String.self) { positions.append(p) }
        return Self.position(among: positions, at: index)
    }

    private func replaceAssigneesAndLabels(boardID: Int64, cardID: Int64, actorID: Int64, assignees: [Int64]?, labels: [Int64]?,
                                           previousAssignees: [Int64] = [], on tx: PostgresConnection) async throws {
        if let assignees {
            let unique = Array(Set(assignees))
            let rows = try await tx.query("""
                SELECT count(*)::BIGINT FROM board_members WHERE board_id = \(boardID) AND user_id = ANY(\(unique))
                """, logger: logger)
            for try await count in rows.decode(Int64.self) where count != unique.count {
                throw BoardError(.invalid(field: "assignees", message: "assignees must be members of the board."))
            }
            try await tx.query("DELETE FROM card_assignees WHERE card_id = \(cardID)", logger: logger)
            try await tx.query("""
                INSERT INTO card_assignees (card_id, user_id) SELECT \(cardID), unnest(\(unique)::BIGINT[])
                """, logger: logger)
            // A new assignment tells the assignee (not the one who assigned themselves).
            let added = unique.filter { !previousAssignees.contains($0) && $0 != actorID }
            if !added.isEmpty {
                try await tx.query("""
                    INSERT INTO notifications (user_id, kind, board_id, card_id, actor_id)
                    SELECT unnest(\(added)::BIGINT[]), 'assigned', \(boardID), \(cardID), \(actorID)
                    """, logger: logger)
            }
        }
        if let labels {
            let unique = Array(Set(labels))
            let rows = try await tx.query("""
                SELECT count(*)::BIGINT FROM labels WHERE board_id = \(boardID) AND id = ANY(\(unique))
                """, logger: logger)
            for try await count in rows.decode(Int64.self) where count != unique.count {
                throw BoardError(.invalid(field: "labels", message: "labels must be labels of this board."))
            }
            try await tx.query("DELETE FROM card_labels WHERE card_id = \(cardID)", logger: logger)
            try await tx.query("""
                INSERT INTO card_labels (card_id, label_id) SELECT \(cardID), unnest(\(unique)::BIGINT[])
                """, logger: logger)
        }
    }
}
