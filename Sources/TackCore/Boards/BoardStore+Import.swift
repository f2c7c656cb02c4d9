import Foundation
import PostgresNIO

extension BoardStore {
    /// Writes an imported board in one transaction: the board (owned by `ownerID`), the members the
    /// import matched (`members`: Trello member id → Tack user id; they join as members), labels,
    /// columns, cards with labels and assignees, checklists with items, and comments; one
    /// `board.created` event. Either all of it is there or none. `progress` hears the share done
    /// (0–100) between steps; `finish` runs last in the same transaction (the import's own row is
    /// marked done there, so a second run of the job cannot make a second board).
    public func importBoard(
        _ plan: TrelloBoardPlan,
        ownerID: Int64,
        members: [String: Int64],
        progress: @escaping @Sendable (Int) async -> Void,
        finish: @escaping @Sendable (Int64, PostgresConnection) async throws -> Void
    ) async throws -> Board {
        let logger = self.logger
        let create: @Sendable (PostgresConnection) async throws -> Int64 = { tx in
            try await Self.insertBoard(name: plan.name, description: plan.description, ownerID: ownerID, on: tx, logger: logger)
        }
        let (board, _) = try await commit(.new(create), actorIDs: [ownerID]) { write -> (Board, [BoardEventDraft]) in
            let tx = write.tx
            let boardID = write.boardID
            let version = write.version
            let others = Array(Set(members.values).subtracting([ownerID])).sorted()
            try await tx.query(
                """
                INSERT INTO board_members (board_id, user_id, role) SELECT \(boardID), unnest(\(others)::BIGINT[]), 'member'
                """,
                logger: logger
            )
            let labelIDs = try await self.insertOrdered(
                """
                INSERT INTO labels (board_id, name, color, version)
                SELECT \(boardID), t.name, t.color, \(version)
                FROM unnest(\(plan.labels.map(\.name))::TEXT[], \(plan.labels.map(\.color))::TEXT[]) WITH ORDINALITY AS t(name, color, n)
                ORDER BY t.n
                RETURNING id
                """,
                on: tx
            )
            let columnIDs = try await self.insertOrdered(
                """
                INSERT INTO columns (board_id, name, position, version, archived_at)
                SELECT \(boardID), t.name, t.position, \(version), CASE WHEN t.archived THEN now() END
                FROM unnest(\(plan.columns.map(\.name))::TEXT[], \(Position.sequence(count: plan.columns.count))::TEXT[],
                            \(plan.columns.map(\.archived))::BOOLEAN[]) WITH ORDINALITY AS t(name, position, archived, n)
                ORDER BY t.n
                RETURNING id
                """,
                on: tx
            )
            await progress(20)

            // Cards: positions restart in each column.
            var positions: [String] = []
            var start = 0
            while start < plan.cards.count {
                var end = start
                while end < plan.cards.count, plan.cards[end].column == plan.cards[start].column { end += 1 }
                positions += Position.sequence(count: end - start)
                start = end
            }
            let cards = plan.cards
            let cardIDs = try await self.insertOrdered(
                """
                INSERT INTO cards (board_id, column_id, title, description, position, due_at, due_has_time, done, archived, created_by, version)
                SELECT \(boardID), t.column_id, t.title, t.description, t.position, NULLIF(t.due, '')::TIMESTAMPTZ, t.due <> '', t.done,
                       t.archived, \(ownerID), \(version)
                FROM unnest(\(cards.map { columnIDs[$0.column] })::BIGINT[], \(cards.map(\.title))::TEXT[], \(cards.map(\.description))::TEXT[],
                            \(positions)::TEXT[], \(cards.map { Self.dateText($0.dueAt) })::TEXT[], \(cards.map(\.done))::BOOLEAN[],
                            \(cards.map(\.archived))::BOOLEAN[])
                     WITH ORDINALITY AS t(column_id, title, description, position, due, done, archived, n)
                ORDER BY t.n
                RETURNING id
                """,
                on: tx
            )
            await progress(50)

            var labelPairs: ([Int64], [Int64]) = ([], [])
            var assigneePairs: ([Int64], [Int64]) = ([], [])
            for (index, card) in cards.enumerated() {
                for label in Set(card.labels).sorted() {
                    labelPairs.0.append(cardIDs[index])
                    labelPairs.1.append(labelIDs[label])
                }
                for user in Set(card.memberIDs.compactMap { members[$0] }).sorted() {
                    assigneePairs.0.append(cardIDs[index])
                    assigneePairs.1.append(user)
                }
            }
            try await tx.query(
                "INSERT INTO card_labels (card_id, label_id) SELECT * FROM unnest(\(labelPairs.0)::BIGINT[], \(labelPairs.1)::BIGINT[])",
                logger: logger
            )
            try await tx.query(
                "INSERT INTO card_assignees (card_id, user_id) SELECT * FROM unnest(\(assigneePairs.0)::BIGINT[], \(assigneePairs.1)::BIGINT[])",
                logger: logger
            )

            // Checklists, then their items.
            var checklistCards: [Int64] = []
            var checklistTitles: [String] = []
            var checklistPositions: [String] = []
            for (index, card) in cards.enumerated() where !card.checklists.isEmpty {
                checklistCards += Array(repeating: cardIDs[index], count: card.checklists.count)
                checklistTitles += card.checklists.map(\.title)
                checklistPositions += Position.sequence(count: card.checklists.count)
            }
            let checklistIDs = try await self.insertOrdered(
                """
                INSERT INTO checklists (board_id, card_id, title, position, version)
                SELECT \(boardID), t.card_id, t.title, t.position, \(version)
                FROM unnest(\(checklistCards)::BIGINT[], \(checklistTitles)::TEXT[], \(checklistPositions)::TEXT[])
                     WITH ORDINALITY AS t(card_id, title, position, n)
                ORDER BY t.n
                RETURNING id
                """,
                on: tx
            )
            var items: (checklist: [Int64], card: [Int64], text: [String], position: [String], done: [Bool], assignee: [Int64], due: [String]) =
                ([], [], [], [], [], [], [])
            var checklistNumber = 0
            for (index, card) in cards.enumerated() {
                for checklist in card.checklists {
                    let id = checklistIDs[checklistNumber]
                    checklistNumber += 1
                    items.checklist += Array(repeating: id, count: checklist.items.count)
                    items.card += Array(repeating: cardIDs[index], count: checklist.items.count)
                    items.text += checklist.items.map(\.text)
                    items.position += Position.sequence(count: checklist.items.count)
                    items.done += checklist.items.map(\.done)
                    items.assignee += checklist.items.map { $0.memberID.flatMap { members[$0] } ?? 0 }
                    items.due += checklist.items.map { Self.dateText($0.dueAt) }
                }
            }
            try await tx.query(
                """
                INSERT INTO checklist_items (board_id, card_id, checklist_id, text, position, done, assignee_id, due_at, version)
                SELECT \(boardID), t.card_id, t.checklist_id, t.text, t.position, t.done, NULLIF(t.assignee, 0), NULLIF(t.due, '')::TIMESTAMPTZ,
                       \(version)
                FROM unnest(\(items.card)::BIGINT[], \(items.checklist)::BIGINT[], \(items.text)::TEXT[], \(items.position)::TEXT[],
                            \(items.done)::BOOLEAN[], \(items.assignee)::BIGINT[], \(items.due)::TEXT[])
                     AS t(card_id, checklist_id, text, position, done, assignee, due)
                """,
                logger: logger
            )
            await progress(75)

            // Comments keep their date; one whose author has no Tack account is the importer's,
            // saying who wrote it.
            var comments: (card: [Int64], author: [Int64], body: [String], at: [String]) = ([], [], [], [])
            for (index, card) in cards.enumerated() {
                for comment in card.comments {
                    comments.card.append(cardIDs[index])
                    if let user = comment.memberID.flatMap({ members[$0] }) {
                        comments.author.append(user)
                        comments.body.append(comment.text)
                    } else {
                        comments.author.append(ownerID)
                        comments.body.append(
                            "**\(comment.authorName)** wrote on Trello (\(Self.dateText(comment.at).prefix(10))):\n\n\(comment.text)"
                        )
                    }
                    comments.at.append(Self.dateText(comment.at))
                }
            }
            try await tx.query(
                """
                INSERT INTO comments (card_id, author_id, body, created_at, version)
                SELECT t.card_id, t.author_id, t.body, t.at::TIMESTAMPTZ, \(version)
                FROM unnest(\(comments.card)::BIGINT[], \(comments.author)::BIGINT[], \(comments.body)::TEXT[], \(comments.at)::TEXT[])
                     AS t(card_id, author_id, body, at)
                """,
                logger: logger
            )
            try await finish(boardID, tx)
            await progress(95)
            let board = Board(
                id: boardID,
                name: plan.name,
                description: plan.description,
                version: version,
                changedVersion: version,
                role: .owner,
                createdAt: write.board.now,
                archived: false
            )
            return (board, [BoardEventDraft(kind: "board.created", payload: BoardPayload(board), actorID: ownerID)])
        }
        return board
    }

    /// The ids an `INSERT … SELECT … ORDER BY … RETURNING id` made, in the order of its rows
    /// (identity values are taken in the order rows are inserted).
    private func insertOrdered(_ query: PostgresQuery, on tx: PostgresConnection) async throws -> [Int64] {
        var ids: [Int64] = []
        for try await id in try await tx.query(query, logger: logger).decode(Int64.self) { ids.append(id) }
        return ids.sorted()
    }

    /// A date as PostgreSQL reads it, or '' for none.
    static func dateText(_ date: Date?) -> String {
        date.map { Timestamp.string(from: $0, milliseconds: true) } ?? ""
    }

    /// Tack accounts for the members of a Trello board: by email when the export has one, else by
    /// username, which must be the part before `@` of exactly one account's email.
    public func matchTrelloMembers(_ members: [TrelloBoardPlan.Member]) async throws -> [String: Int64] {
        var matched: [String: Int64] = [:]
        let emails = members.compactMap { $0.email?.lowercased() }
        let handles = members.compactMap { $0.username?.lowercased() }
        guard !emails.isEmpty || !handles.isEmpty else { return matched }
        let rows = try await postgres.boundedQuery(
            """
            SELECT lower(email), lower(split_part(email, '@', 1)), id FROM users
            WHERE lower(email) = ANY(\(emails)) OR lower(split_part(email, '@', 1)) = ANY(\(handles))
            """,
            logger: logger
        )
        var byEmail: [String: Int64] = [:]
        var byHandle: [String: [Int64]] = [:]
        for try await (email, handle, id) in rows.decode((String, String, Int64).self) {
            byEmail[email] = id
            byHandle[handle, default: []].append(id)
        }
        for member in members {
            if let email = member.email?.lowercased(), let id = byEmail[email] {
                matched[member.id] = id
            } else if let handle = member.username?.lowercased(), let ids = byHandle[handle], ids.count == 1 {
                matched[member.id] = ids[0]
            }
        }
        return matched
    }
}
