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
    /// Whether the due date is a time of day (true) or a day (false); nil leaves it (a new
    /// `dueAt` without it counts as a time).
    public var dueHasTime: Bool?
    /// Done flag.
    public var done: Bool?
    /// Archived flag.
    public var archived: Bool?
    /// Makes this attachment (an image of the card) its cover; see `clearCover`.
    public var coverAttachmentID: Int64?
    /// Removes the cover.
    public var clearCover = false
    /// Replaces the assignees (members of the board only); needs `expectedVersion`.
    public var assignees: [Int64]?
    /// Replaces the labels (labels of the board only); needs `expectedVersion`.
    public var labels: [Int64]?
    /// Assignees added to the current ones (merges with concurrent changes).
    public var addAssignees: [Int64] = []
    /// Assignees taken off (merges with concurrent changes).
    public var removeAssignees: [Int64] = []
    /// Labels added to the current ones (merges with concurrent changes).
    public var addLabels: [Int64] = []
    /// Labels taken off (merges with concurrent changes).
    public var removeLabels: [Int64] = []
    /// Moves the card to this column.
    public var columnID: Int64?
    /// Moves the card to this index in its (new) column.
    public var index: Int?
    /// Moves the card just after this card, in that card's column.
    public var after: Int64?
    /// Moves the card just before this card, in that card's column.
    public var before: Int64?
    /// The card's version the writer based the change on: when given, the change is refused with
    /// 412 if the card changed since.
    public var expectedVersion: Int64?

    /// No change.
    public init() {}

    /// Whether the change moves the card.
    var moves: Bool { columnID != nil || index != nil || after != nil || before != nil }
}

extension BoardStore {
    /// Creates a card in a column, at `index` (default: last).
    ///
    /// Cards created on one board at the same time are inserted together (see `GroupCommit`): the
    /// board's writes are serialised by its row lock anyway, and a batch of appends to one column
    /// takes the same few statements as one card.
    public func createCard(
        boardID: Int64,
        actorID: Int64,
        columnID: Int64,
        title: String,
        description: String,
        index: Int?,
        changes: CardChanges
    ) async throws -> (Card, BoardEvent) {
        let card = NewCard(actorID: actorID, columnID: columnID, title: title, description: description, index: index, changes: changes)
        return try await newCards.run(card, key: boardID) { batch in await self.createCards(boardID: boardID, batch) }.get()
    }

    /// A card waiting to be created.
    struct NewCard: Sendable {
        var actorID: Int64
        var columnID: Int64
        var title: String
        var description: String
        var index: Int?
        var changes: CardChanges

        /// Appended, without assignees or labels: such cards of one column are inserted together.
        var isPlainAppend: Bool { index == nil && changes.assignees == nil && changes.labels == nil }
    }

    /// Plain appends to one column in one write per column; any other card in its own (its slot,
    /// assignees and labels need reads of their own).
    private func createCards(boardID: Int64, _ batch: [NewCard]) async -> [Result<(Card, BoardEvent), any Error>] {
        var groups: [[Int]] = []
        var appendGroup: [Int64: Int] = [:]
        for (i, card) in batch.enumerated() {
            if card.isPlainAppend, let group = appendGroup[card.columnID] {
                groups[group].append(i)
                continue
            }
            if card.isPlainAppend { appendGroup[card.columnID] = groups.count }
            groups.append([i])
        }
        var results = [Result<(Card, BoardEvent), any Error>](repeating: .failure(BoardError(.notFound("card"))), count: batch.count)
        for group in groups {
            let cards = group.map { batch[$0] }
            do {
                let (outcomes, events) = try await commit(.existing(boardID), actorIDs: cards.map(\.actorID)) { write in
                    try await self.insertCards(cards, write)
                }
                // Events are in the order of the cards that were made.
                var made = events.makeIterator()
                for (i, outcome) in zip(group, outcomes) {
                    results[i] = outcome.flatMap { card in made.next().map { .success((card, $0)) } ?? .failure(BoardError(.notFound("card"))) }
                }
            } catch {
                for i in group { results[i] = .failure(error) }
            }
        }
        return results
    }

    /// Inside the write: inserts cards of one column (several only when all are plain appends) in
    /// few statements: the slot read (which also reserves the ids), one insert of all the cards
    /// (from the same JSON their events carry), then assignees and labels when given. A card whose
    /// writer may not write, or whose column is not on the board, gets its error; the others go
    /// ahead. Returns each card's outcome and the events of the cards made, in order.
    private func insertCards(_ cards: [NewCard], _ write: BoardWrite) async throws -> ([Result<Card, any Error>], [BoardEventDraft]) {
        let boardID = write.boardID
        let board = write.board
        let tx = write.tx
        var outcomes = [Result<Card, any Error>](repeating: .failure(BoardError(.notFound("card"))), count: cards.count)
        var accepted: [Int] = []
        for (i, role) in board.roles.enumerated() {
            do {
                _ = try Self.check(role, minimum: .member)
                accepted.append(i)
            } catch {
                outcomes[i] = .failure(error)
            }
        }
        guard let first = accepted.first else { return (outcomes, []) }
        let slot: (position: String, ids: [Int64])
        do {
            slot = try await cardSlot(
                boardID: boardID,
                columnID: cards[first].columnID,
                excluding: nil,
                index: cards[first].index,
                reserving: accepted.count,
                on: tx
            )
        } catch let error as BoardError {
            for i in accepted { outcomes[i] = .failure(error) }
            return (outcomes, [])
        }
        var made: [Card] = []
        var position = slot.position
        for (n, i) in accepted.enumerated() {
            if n > 0 { position = Position.between(position, nil) }
            let new = cards[i]
            // Event n of the write is at version write.version + n.
            made.append(
                Card(
                    id: slot.ids[n],
                    boardID: boardID,
                    columnID: new.columnID,
                    title: new.title,
                    description: new.description,
                    position: position,
                    dueAt: new.changes.dueAt,
                    dueHasTime: new.changes.dueAt != nil && (new.changes.dueHasTime ?? true),
                    done: new.changes.done ?? false,
                    archived: false,
                    assignees: new.changes.assignees.map { Array(Set($0)).sorted() } ?? [],
                    labels: new.changes.labels.map { Array(Set($0)).sorted() } ?? [],
                    createdBy: new.actorID,
                    createdAt: board.now,
                    updatedAt: board.now,
                    version: write.version + Int64(n)
                )
            )
        }
        // The cards' event payloads are the cards as clients see them, so they are also the rows to insert.
        let drafts = made.map { BoardEventDraft(kind: "card.created", cardID: $0.id, payload: $0, actorID: $0.createdBy) }
        let payloads = "[" + drafts.map(\.payload).joined(separator: ",") + "]"
        try await tx.query(
            """
            INSERT INTO cards (id, board_id, column_id, title, description, position, due_at, due_has_time, done, created_by, version)
            OVERRIDING SYSTEM VALUE
            SELECT c.id, c.board_id, c.column_id, c.title, c.description, c.position, c.due_at, c.due_has_time, c.done, c.created_by, c.version
            FROM jsonb_array_elements(\(payloads)::jsonb) AS e(card),
                 jsonb_to_record(e.card) AS c(id BIGINT, board_id BIGINT, column_id BIGINT, title TEXT, description TEXT,
                                              position TEXT, due_at TIMESTAMPTZ, due_has_time BOOLEAN, done BOOLEAN, created_by BIGINT,
                                              version BIGINT)
            """,
            logger: logger
        )
        for (n, i) in accepted.enumerated() {
            outcomes[i] = .success(made[n])
            guard cards[i].changes.assignees != nil || cards[i].changes.labels != nil else { continue }
            try await replaceAssigneesAndLabels(
                boardID: boardID,
                cardID: made[n].id,
                actorID: cards[i].actorID,
                assignees: cards[i].changes.assignees,
                labels: cards[i].changes.labels,
                on: tx
            )
        }
        return (outcomes, drafts)
    }

    /// Updates and/or moves a card. Typed values are replaced only if the card is still at
    /// `changes.expectedVersion` when one is given (412 otherwise); replacing all labels or
    /// assignees needs it (428); adding and removing merge with concurrent changes. A move names
    /// its target (column + index, or after/before a card) and is refused (409) for an archived card.
    public func updateCard(boardID: Int64, cardID: Int64, actorID: Int64, changes: CardChanges) async throws -> (Card, BoardEvent) {
        if changes.expectedVersion == nil {
            if changes.labels != nil { throw BoardError(.preconditionRequired(field: "labels")) }
            if changes.assignees != nil { throw BoardError(.preconditionRequired(field: "assignees")) }
        }
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Card, BoardEventDraft) in
            let tx = write.tx
            guard let before = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: tx).first else {
                throw BoardError(.notFound("card"))
            }
            try Self.require(changes.expectedVersion, matches: before, version: before.version, key: "card")
            var position = before.position
            var columnID = before.columnID
            if changes.moves {
                guard !(changes.archived ?? before.archived) else {
                    throw BoardError(.conflict(code: "card_archived", message: "The card is archived; restore it before moving it."))
                }
                (columnID, position) = try await self.moveTarget(boardID: boardID, cardID: cardID, changes: changes, on: tx)
            }
            if let cover = changes.coverAttachmentID { try await self.checkCover(cover, boardID: boardID, cardID: cardID, on: tx) }
            try await tx.query(
                """
                UPDATE cards SET
                    title = COALESCE(\(changes.title), title),
                    description = COALESCE(\(changes.description), description),
                    due_at = CASE WHEN \(changes.clearDueAt) THEN NULL ELSE COALESCE(\(changes.dueAt), due_at) END,
                    due_has_time = CASE WHEN \(changes.clearDueAt) THEN false
                                        ELSE COALESCE(\(changes.dueHasTime ?? (changes.dueAt != nil ? true : nil)), due_has_time) END,
                    done = COALESCE(\(changes.done), done),
                    archived = COALESCE(\(changes.archived), archived),
                    cover_attachment_id = CASE WHEN \(changes.clearCover) THEN NULL
                                               ELSE COALESCE(\(changes.coverAttachmentID), cover_attachment_id) END,
                    column_id = \(columnID),
                    position = \(position),
                    version = \(write.version),
                    updated_at = now()
                WHERE id = \(cardID) AND board_id = \(boardID)
                """,
                logger: logger
            )
            let assignees = Self.merged(before.assignees, replace: changes.assignees, add: changes.addAssignees, remove: changes.removeAssignees)
            let labels = Self.merged(before.labels, replace: changes.labels, add: changes.addLabels, remove: changes.removeLabels)
            try await self.replaceAssigneesAndLabels(
                boardID: boardID,
                cardID: cardID,
                actorID: actorID,
                assignees: assignees == before.assignees ? nil : assignees,
                labels: labels == before.labels ? nil : labels,
                previousAssignees: before.assignees,
                on: tx
            )
            guard let card = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: tx).first else {
                throw BoardError(.notFound("card"))
            }
            let kind = changes.moves && changes.title == nil && changes.description == nil ? "card.moved" : "card.updated"
            return (card, BoardEventDraft(kind: kind, cardID: cardID, payload: card))
        }
    }

    /// A set after a change: replaced outright, or the current one with `add` and without `remove`; sorted.
    static func merged(_ current: [Int64], replace: [Int64]?, add: [Int64], remove: [Int64]) -> [Int64] {
        if let replace { return Array(Set(replace)).sorted() }
        return Set(current).union(add).subtracting(remove).sorted()
    }

    /// Where a move puts the card: its column and ordering key, from a column + index or from the
    /// card it goes after or before (which must be an unarchived card of the board, not itself).
    private func moveTarget(boardID: Int64, cardID: Int64, changes: CardChanges, on tx: PostgresConnection) async throws -> (Int64, String) {
        guard let reference = changes.after ?? changes.before else {
            guard let columnID = changes.columnID else {
                throw BoardError(.invalid(field: "column_id", message: "column_id is required with index."))
            }
            return (
                columnID,
                try await cardSlot(boardID: boardID, columnID: columnID, excluding: cardID, index: changes.index, reserving: 0, on: tx).position
            )
        }
        let field = changes.after != nil ? "after" : "before"
        guard reference != cardID else { throw BoardError(.invalid(field: field, message: "\(field) must be another card.")) }
        let after = changes.after != nil
        // The reference card's key and its neighbour on the side the card goes (the card itself excluded).
        let rows = try await tx.query(
            """
            SELECT r.column_id, r.position,
                   (SELECT CASE WHEN \(after) THEN min(c.position) ELSE max(c.position) END FROM cards c
                    WHERE c.column_id = r.column_id AND NOT c.archived AND c.id <> \(cardID)
                      AND (CASE WHEN \(after) THEN c.position > r.position ELSE c.position < r.position END))
            FROM cards r
            WHERE r.id = \(reference) AND r.board_id = \(boardID) AND NOT r.archived
            """,
            logger: logger
        )
        for try await (columnID, key, neighbour) in rows.decode((Int64, String, String?).self) {
            if let given = changes.columnID, given != columnID {
                throw BoardError(.invalid(field: "column_id", message: "column_id is not the column of the \(field) card."))
            }
            return (columnID, after ? Position.between(key, neighbour) : Position.between(neighbour, key))
        }
        throw BoardError(.invalid(field: field, message: "\(field) is not an unarchived card of this board."))
    }
    /// Deletes a card with its comments and attachments (whose files `AttachmentFiles.purge` removes).
    public func deleteCard(boardID: Int64, cardID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Void, BoardEventDraft) in
            let rows = try await write.tx.query("DELETE FROM cards WHERE id = \(cardID) AND board_id = \(boardID) RETURNING id", logger: logger)
            var found = false
            for try await _ in rows.decode(Int64.self) { found = true }
            guard found else { throw BoardError(.notFound("card")) }
            return ((), BoardEventDraft(kind: "card.deleted", cardID: cardID, payload: ["id": cardID]))
        }.1
    }

    /// One card, archived included.
    public func card(boardID: Int64, cardID: Int64) async throws -> Card {
        try await postgres.withBoundedConnection(logger: logger) { connection in
            guard let card = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: connection).first else {
                throw BoardError(.notFound("card"))
            }
            return card
        }
    }

    /// Cards whose title or description match `query` (all words, prefix match), best first.
    public func search(boardID: Int64, query: String, limit: Int) async throws -> [Card] {
        guard let tsquery = Self.prefixQuery(query) else { return [] }
        let rows = try await postgres.boundedQuery(
            """
            SELECT id FROM cards
            WHERE board_id = \(boardID) AND search @@ to_tsquery('simple', \(tsquery))
            ORDER BY ts_rank(search, to_tsquery('simple', \(tsquery))) DESC, id DESC
            LIMIT \(limit)
            """,
            logger: logger
        )
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        guard !ids.isEmpty else { return [] }
        let all = try await postgres.withBoundedConnection(logger: logger) {
            try await self.cards(boardID: boardID, cardID: nil, includeArchived: true, on: $0)
        }
        let byID = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
        return ids.compactMap { byID[$0] }
    }

    /// Where a card goes in a column of the board: the ordering key for `index` (default: last)
    /// among the column's other unarchived cards, reading only the neighbours it needs; and
    /// `reserving` new card ids. Throws when the column is not on the board.
    private func cardSlot(
        boardID: Int64,
        columnID: Int64,
        excluding cardID: Int64?,
        index: Int?,
        reserving count: Int,
        on tx: PostgresConnection
    ) async throws -> (position: String, ids: [Int64]) {
        // At `index`: the first index + 1 keys (fewer when the column is shorter); last: the last key.
        // (An index past the end means last, as in `position(among:at:)`, and a negative one first.)
        let order = index == nil ? "DESC" : "ASC"
        let limit = min(max(index ?? 0, 0), Int(Int32.max - 1)) + 1
        let rows = try await tx.query(
            """
            SELECT (SELECT archived_at IS NOT NULL FROM columns WHERE id = \(columnID) AND board_id = \(boardID)),
                   ARRAY(SELECT position FROM cards
                         WHERE column_id = \(columnID) AND NOT archived AND (\(cardID)::BIGINT IS NULL OR id <> \(cardID))
                         ORDER BY position \(unescaped: order)
                         LIMIT \(limit)),
                   ARRAY(SELECT nextval(pg_get_serial_sequence('cards', 'id')) FROM generate_series(1, \(count)))
            """,
            logger: logger
        )
        for try await (archived, keys, ids) in rows.decode((Bool?, [String], [Int64]).self) {
            guard let archived else { throw BoardError(.invalid(field: "column_id", message: "column_id is not a column of this board.")) }
            guard !archived else {
                throw BoardError(
                    .conflict(code: "column_archived", message: "The column is archived; restore it before adding or moving cards to it.")
                )
            }
            return (Self.position(among: keys, at: index), ids)
        }
        throw BoardError(.notFound("column"))
    }

    private func replaceAssigneesAndLabels(
        boardID: Int64,
        cardID: Int64,
        actorID: Int64,
        assignees: [Int64]?,
        labels: [Int64]?,
        previousAssignees: [Int64] = [],
        on tx: PostgresConnection
    ) async throws {
        if let assignees {
            let unique = Array(Set(assignees))
            try await requireMembers(unique, boardID: boardID, field: "assignees", message: "assignees must be members of the board.", on: tx)
            try await tx.query("DELETE FROM card_assignees WHERE card_id = \(cardID)", logger: logger)
            try await tx.query(
                """
                INSERT INTO card_assignees (card_id, user_id) SELECT \(cardID), unnest(\(unique)::BIGINT[])
                """,
                logger: logger
            )
            // A new assignment tells the assignee (not the one who assigned themselves).
            let added = unique.filter { !previousAssignees.contains($0) && $0 != actorID }
            try await NotificationRepository.record(
                added,
                kind: "assigned",
                boardID: boardID,
                cardID: cardID,
                actorID: actorID,
                on: tx,
                logger: logger
            )
        }
        if let labels {
            let unique = Array(Set(labels))
            let rows = try await tx.query(
                """
                SELECT count(*)::BIGINT FROM labels WHERE board_id = \(boardID) AND id = ANY(\(unique))
                """,
                logger: logger
            )
            for try await count in rows.decode(Int64.self) where count != unique.count {
                throw BoardError(.invalid(field: "labels", message: "labels must be labels of this board."))
            }
            try await tx.query("DELETE FROM card_labels WHERE card_id = \(cardID)", logger: logger)
            try await tx.query(
                """
                INSERT INTO card_labels (card_id, label_id) SELECT \(cardID), unnest(\(unique)::BIGINT[])
                """,
                logger: logger
            )
        }
    }
}
