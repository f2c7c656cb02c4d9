import Foundation
import PostgresNIO

extension BoardStore {
    /// Comments of a card, oldest first, paginated by id.
    public func comments(boardID: Int64, cardID: Int64, after cursor: Int64?, limit: Int) async throws -> [Comment] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT cm.id, cm.card_id, cm.author_id, cm.body, cm.created_at, cm.edited_at, cm.version
            FROM comments cm JOIN cards c ON c.id = cm.card_id
            WHERE c.board_id = \(boardID) AND cm.card_id = \(cardID) AND (\(cursor)::BIGINT IS NULL OR cm.id > \(cursor))
            ORDER BY cm.id
            LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [Comment] = []
        for try await (id, card, author, body, createdAt, editedAt, version) in rows.decode((Int64, Int64, Int64?, String, Date, Date?, Int64).self) {
            result.append(Comment(id: id, cardID: card, authorID: author, body: body, createdAt: createdAt, editedAt: editedAt, version: version))
        }
        return result
    }

    /// Adds a comment; `@handle` mentions of board members (the part of their email before `@`)
    /// notify them.
    public func createComment(boardID: Int64, cardID: Int64, actorID: Int64, body: String) async throws -> (Comment, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Comment, BoardEventDraft) in
            let tx = write.tx
            let rows = try await tx.query(
                """
                INSERT INTO comments (card_id, author_id, body, version)
                SELECT id, \(actorID), \(body), \(write.version) FROM cards WHERE id = \(cardID) AND board_id = \(boardID)
                RETURNING id, created_at
                """,
                logger: logger
            )
            var created: (Int64, Date)?
            for try await row in rows.decode((Int64, Date).self) { created = row }
            guard let (id, createdAt) = created else { throw BoardError(.notFound("card")) }
            let handles = Self.mentions(in: body)
            if !handles.isEmpty {
                let rows = try await tx.query(
                    """
                    SELECT u.id FROM users u JOIN board_members m ON m.user_id = u.id AND m.board_id = \(boardID)
                    WHERE lower(split_part(u.email, '@', 1)) = ANY(\(handles)) AND u.id <> \(actorID)
                    """,
                    logger: logger
                )
                var mentioned: [Int64] = []
                for try await user in rows.decode(Int64.self) { mentioned.append(user) }
                let payload = BoardEventDraft.encode(MentionPayload(commentID: id, excerpt: NotificationRules.excerpt(body)))
                try await NotificationRepository.record(
                    mentioned,
                    kind: "mentioned",
                    boardID: boardID,
                    cardID: cardID,
                    actorID: actorID,
                    payload: payload,
                    on: tx,
                    logger: logger
                )
            }
            let comment = Comment(id: id, cardID: cardID, authorID: actorID, body: body, createdAt: createdAt, editedAt: nil, version: write.version)
            return (comment, BoardEventDraft(kind: "comment.created", cardID: cardID, payload: comment))
        }
    }

    /// Edits a comment (its author only); with `expectedVersion`, only if the comment has not
    /// changed since that version (412 otherwise).
    public func updateComment(
        boardID: Int64,
        commentID: Int64,
        actorID: Int64,
        body: String,
        expectedVersion: Int64? = nil
    ) async throws -> (Comment, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Comment, BoardEventDraft) in
            let comment = try await self.comment(boardID: boardID, commentID: commentID, on: write.tx)
            guard comment.authorID == actorID else { throw BoardError(.forbidden("Only its author can edit a comment.")) }
            try Self.require(expectedVersion, matches: comment, version: comment.version, key: "comment")
            let rows = try await write.tx.query(
                """
                UPDATE comments SET body = \(body), edited_at = now(), version = \(write.version) WHERE id = \(commentID) RETURNING edited_at
                """,
                logger: logger
            )
            var edited = comment
            edited.body = body
            edited.version = write.version
            for try await at in rows.decode(Date.self) { edited.editedAt = at }
            return (edited, BoardEventDraft(kind: "comment.updated", cardID: comment.cardID, payload: edited))
        }
    }

    /// Deletes a comment (its author, or an admin of the board).
    public func deleteComment(boardID: Int64, commentID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Void, BoardEventDraft) in
            let comment = try await self.comment(boardID: boardID, commentID: commentID, on: write.tx)
            guard comment.authorID == actorID || write.role >= .admin else {
                throw BoardError(.forbidden("Only its author or a board admin can delete a comment."))
            }
            try await write.tx.query("DELETE FROM comments WHERE id = \(commentID)", logger: logger)
            return ((), BoardEventDraft(kind: "comment.deleted", cardID: comment.cardID, payload: ["id": commentID]))
        }.1
    }

    private func comment(boardID: Int64, commentID: Int64, on tx: PostgresConnection) async throws -> Comment {
        let rows = try await tx.query(
            """
            SELECT cm.id, cm.card_id, cm.author_id, cm.body, cm.created_at, cm.edited_at, cm.version
            FROM comments cm JOIN cards c ON c.id = cm.card_id
            WHERE cm.id = \(commentID) AND c.board_id = \(boardID)
            """,
            logger: logger
        )
        for try await (id, card, author, body, createdAt, editedAt, version) in rows.decode((Int64, Int64, Int64?, String, Date, Date?, Int64).self) {
            return Comment(id: id, cardID: card, authorID: author, body: body, createdAt: createdAt, editedAt: editedAt, version: version)
        }
        throw BoardError(.notFound("comment"))
    }

    /// Lower-cased `@handle`s in a text (letters, digits, `.`, `_`, `-`, `+`).
    static func mentions(in text: String) -> [String] {
        var handles = Set<String>()
        var current: String?
        for ch in text + " " {
            if ch == "@" {
                current = ""
            } else if var handle = current {
                if ch.isLetter || ch.isNumber || "._-+".contains(ch) {
                    handle.append(ch)
                    current = handle
                } else {
                    let trimmed = handle.trimmingCharacters(in: CharacterSet(charactersIn: "."))
                    if !trimmed.isEmpty { handles.insert(trimmed.lowercased()) }
                    current = nil
                }
            }
        }
        return handles.sorted()
    }
}

/// What a mention notification carries: the comment, and its first line for the bell and the email.
struct MentionPayload: Encodable {
    var commentID: Int64
    var excerpt: String
}
