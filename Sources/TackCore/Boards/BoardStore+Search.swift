import Foundation
import PostgresNIO

/// A card found by a search across the caller's boards, with where it is.
public struct SearchHit: Sendable, Codable, Equatable {
    public var cardID: Int64
    public var boardID: Int64
    public var boardName: String
    public var columnName: String
    public var title: String
    public var done: Bool
    public var archived: Bool
    public var dueAt: Date?
    public var dueHasTime: Bool
}

extension BoardStore {
    /// The board's cards, unarchived or archived ones, the most recently changed first for archived
    /// ones (what a board's "archived cards" list shows), at most `limit`.
    public func cards(boardID: Int64, archived: Bool, limit: Int) async throws -> [Card] {
        let all = try await postgres.withBoundedConnection(logger: logger) {
            try await self.cards(boardID: boardID, cardID: nil, includeArchived: archived, on: $0)
        }
        let chosen = all.filter { $0.archived == archived }
        return Array((archived ? chosen.sorted { $0.version > $1.version } : chosen).prefix(limit))
    }

    /// `query` as a tsquery of its words (runs of letters and digits, at most 16), each a quoted
    /// prefix lexeme, so the text is never parsed as tsquery syntax; nil when it has no word.
    static func prefixQuery(_ query: String) -> String? {
        let words = query.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).prefix(16)
        guard !words.isEmpty else { return nil }
        return words.map { "'" + $0.lowercased() + "':*" }.joined(separator: " & ")
    }

    /// Cards on the boards `userID` is a member of whose title or description hold every word of
    /// `query` (as prefixes), best match first; archived cards after the others.
    public func search(userID: Int64, query: String, limit: Int) async throws -> [SearchHit] {
        guard let tsquery = Self.prefixQuery(query) else { return [] }
        let rows = try await postgres.boundedQuery(
            """
            SELECT c.id, c.board_id, b.name, col.name, c.title, c.done, c.archived, c.due_at, c.due_has_time
            FROM cards c
            JOIN board_members m ON m.board_id = c.board_id AND m.user_id = \(userID)
            JOIN boards b ON b.id = c.board_id
            JOIN columns col ON col.id = c.column_id AND col.archived_at IS NULL
            WHERE c.search @@ to_tsquery('simple', \(tsquery))
            ORDER BY c.archived, ts_rank(c.search, to_tsquery('simple', \(tsquery))) DESC, c.id DESC
            LIMIT \(limit)
            """,
            logger: logger
        )
        var hits: [SearchHit] = []
        for try await (card, board, boardName, columnName, title, done, archived, due, dueHasTime)
            in rows.decode((Int64, Int64, String, String, String, Bool, Bool, Date?, Bool).self)
        {
            hits.append(
                SearchHit(
                    cardID: card,
                    boardID: board,
                    boardName: boardName,
                    columnName: columnName,
                    title: title,
                    done: done,
                    archived: archived,
                    dueAt: due,
                    dueHasTime: dueHasTime
                )
            )
        }
        return hits
    }
}
