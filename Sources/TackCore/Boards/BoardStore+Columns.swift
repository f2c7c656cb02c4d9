import Foundation
import PostgresNIO

extension BoardStore {
    /// Adds a column at `index` (default: last).
    public func createColumn(boardID: Int64, actorID: Int64, name: String, wipLimit: Int?, index: Int?) async throws -> (BoardColumn, BoardEvent) {
        let logger = self.logger
        let (column, event) = try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (BoardColumn, BoardEventDraft) in
            let existing = try await self.columns(boardID: boardID, on: write.tx)
            let position = Self.position(among: existing.map(\.position), at: index)
            let rows = try await write.tx.query(
                """
                INSERT INTO columns (board_id, name, position, wip_limit, version)
                VALUES (\(boardID), \(name), \(position), \(wipLimit), \(write.version))
                RETURNING id
                """,
                logger: logger
            )
            var id: Int64 = 0
            for try await value in rows.decode(Int64.self) { id = value }
            let column = BoardColumn(id: id, boardID: boardID, name: name, position: position, wipLimit: wipLimit, version: write.version)
            return (column, BoardEventDraft(kind: "column.created", payload: column))
        }
        return (column, event)
    }

    /// Renames, re-limits (`clearWipLimit` removes the limit), moves a column to `index`, or
    /// archives / restores it with its cards (`archived`); with `expectedVersion`, only if the column
    /// has not changed since that version (412 otherwise).
    public func updateColumn(
        boardID: Int64,
        columnID: Int64,
        actorID: Int64,
        name: String?,
        wipLimit: Int?,
        clearWipLimit: Bool,
        index: Int?,
        archived: Bool? = nil,
        expectedVersion: Int64? = nil
    ) async throws -> (BoardColumn, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (BoardColumn, BoardEventDraft) in
            let existing = try await self.allColumns(boardID: boardID, on: write.tx)
            guard var column = existing.first(where: { $0.id == columnID }) else { throw BoardError(.notFound("column")) }
            try Self.require(expectedVersion, matches: column, version: column.version, key: "column")
            column.version = write.version
            if let name { column.name = name }
            if clearWipLimit { column.wipLimit = nil } else if let wipLimit { column.wipLimit = wipLimit }
            if let archived { column.archived = archived }
            if let index {
                let others = existing.filter { $0.id != columnID && !$0.archived }
                column.position = Self.position(among: others.map(\.position), at: index)
            }
            try await write.tx.query(
                """
                UPDATE columns SET name = \(column.name), wip_limit = \(column.wipLimit), position = \(column.position), version = \(column.version),
                    archived_at = CASE WHEN \(column.archived) THEN COALESCE(archived_at, now()) ELSE NULL END
                WHERE id = \(columnID) AND board_id = \(boardID)
                """,
                logger: logger
            )
            return (column, BoardEventDraft(kind: "column.updated", payload: column))
        }
    }

    /// Deletes an empty column (archived cards count as content: move or delete them first).
    public func deleteColumn(boardID: Int64, columnID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Void, BoardEventDraft) in
            let rows = try await write.tx.query(
                """
                SELECT (SELECT count(*) FROM cards WHERE column_id = \(columnID))::BIGINT, EXISTS (SELECT 1 FROM columns WHERE id = \(columnID) AND board_id = \(boardID))
                """,
                logger: logger
            )
            for try await (cards, exists) in rows.decode((Int64, Bool).self) {
                guard exists else { throw BoardError(.notFound("column")) }
                guard cards == 0 else {
                    throw BoardError(.conflict(code: "column_not_empty", message: "Move or delete the column's \(cards) card(s) first."))
                }
            }
            try await write.tx.query("DELETE FROM columns WHERE id = \(columnID) AND board_id = \(boardID)", logger: logger)
            return ((), BoardEventDraft(kind: "column.deleted", payload: ["id": columnID]))
        }.1
    }

    /// The ordering key for an item inserted at `index` among keys sorted ascending (nil or past the end: last).
    static func position(among sorted: [String], at index: Int?) -> String {
        let i = min(max(index ?? sorted.count, 0), sorted.count)
        return Position.between(i > 0 ? sorted[i - 1] : nil, i < sorted.count ? sorted[i] : nil)
    }
}
