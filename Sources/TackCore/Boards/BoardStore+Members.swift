import Foundation
import PostgresNIO

extension BoardStore {
    /// Members of a board.
    public func members(boardID: Int64) async throws -> [BoardMember] {
        try await postgres.withBoundedConnection(logger: logger) { try await self.members(boardID: boardID, on: $0) }
    }

    /// Labels of a board.
    public func labels(boardID: Int64) async throws -> [Label] {
        try await postgres.withBoundedConnection(logger: logger) { try await self.labels(boardID: boardID, on: $0) }
    }

    /// Columns of a board, in order: those on the board, or the archived ones.
    public func columns(boardID: Int64, archived: Bool = false) async throws -> [BoardColumn] {
        try await postgres.withBoundedConnection(logger: logger) { try await self.columns(boardID: boardID, archived: archived, on: $0) }
    }

    /// Adds a user (by email) or changes their role. Admins manage roles below owner; only an owner
    /// grants or takes ownership; the last owner cannot be demoted.
    public func setMember(boardID: Int64, actorID: Int64, email: String, role: BoardRole) async throws -> (BoardMember, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .admin) { write -> (BoardMember, BoardEventDraft) in
            let tx = write.tx
            let actorRole = write.role
            let users = try await tx.query("SELECT id, name, email FROM users WHERE email = \(email.lowercased())", logger: logger)
            var found: (Int64, String, String)?
            for try await row in users.decode((Int64, String, String).self) { found = row }
            guard let (userID, name, userEmail) = found else {
                throw BoardError(.invalid(field: "email", message: "No account has this email; ask them to sign up first."))
            }
            let current = try await self.memberRole(boardID: boardID, userID: userID, on: tx)
            if (role == .owner || current == .owner) && actorRole != .owner {
                throw BoardError(.forbidden("Only an owner can grant or take ownership."))
            }
            if current == .owner && role != .owner {
                try await self.requireAnotherOwner(boardID: boardID, userID: userID, on: tx)
            }
            try await tx.query(
                """
                INSERT INTO board_members (board_id, user_id, role) VALUES (\(boardID), \(userID), \(role.rawValue))
                ON CONFLICT (board_id, user_id) DO UPDATE SET role = EXCLUDED.role
                """,
                logger: logger
            )
            let member = BoardMember(userID: userID, name: name, email: userEmail, role: role)
            return (member, BoardEventDraft(kind: current == nil ? "member.added" : "member.updated", payload: member))
        }
    }

    /// Removes a member (admin; an owner only by an owner; a member may always leave; never the last owner).
    public func removeMember(boardID: Int64, actorID: Int64, userID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        let minimum: BoardRole = userID == actorID ? .viewer : .admin
        return try await write(boardID: boardID, actorID: actorID, minimum: minimum) { write -> (Void, BoardEventDraft) in
            let tx = write.tx
            let actorRole = write.role
            guard let current = try await self.memberRole(boardID: boardID, userID: userID, on: tx) else { throw BoardError(.notFound("member")) }
            if current == .owner {
                if actorRole != .owner { throw BoardError(.forbidden("Only an owner can remove an owner.")) }
                try await self.requireAnotherOwner(boardID: boardID, userID: userID, on: tx)
            }
            try await tx.query("DELETE FROM board_members WHERE board_id = \(boardID) AND user_id = \(userID)", logger: logger)
            try await tx.query(
                "DELETE FROM card_assignees a USING cards c WHERE a.card_id = c.id AND c.board_id = \(boardID) AND a.user_id = \(userID)",
                logger: logger
            )
            try await tx.query(
                "UPDATE checklist_items SET assignee_id = NULL WHERE board_id = \(boardID) AND assignee_id = \(userID)",
                logger: logger
            )
            return ((), BoardEventDraft(kind: "member.removed", payload: ["user_id": userID]))
        }.1
    }

    /// Every one of `ids` must be a member of the board (work is assigned to members only); else
    /// 400 naming `field`.
    func requireMembers(_ ids: [Int64], boardID: Int64, field: String, message: String, on tx: PostgresConnection) async throws {
        let unique = Array(Set(ids))
        guard !unique.isEmpty else { return }
        let rows = try await tx.query(
            "SELECT count(*)::BIGINT FROM board_members WHERE board_id = \(boardID) AND user_id = ANY(\(unique))",
            logger: logger
        )
        for try await count in rows.decode(Int64.self) where count != unique.count {
            throw BoardError(.invalid(field: field, message: message))
        }
    }

    private func memberRole(boardID: Int64, userID: Int64, on tx: PostgresConnection) async throws -> BoardRole? {
        let rows = try await tx.query("SELECT role FROM board_members WHERE board_id = \(boardID) AND user_id = \(userID)", logger: logger)
        for try await role in rows.decode(String.self) { return BoardRole(rawValue: role) }
        return nil
    }

    private func requireAnotherOwner(boardID: Int64, userID: Int64, on tx: PostgresConnection) async throws {
        let rows = try await tx.query(
            """
            SELECT count(*)::BIGINT FROM board_members WHERE board_id = \(boardID) AND role = 'owner' AND user_id <> \(userID)
            """,
            logger: logger
        )
        for try await others in rows.decode(Int64.self) where others == 0 {
            throw BoardError(.conflict(code: "last_owner", message: "A board keeps at least one owner; make someone else owner first."))
        }
    }

    // MARK: - Labels

    /// Creates a label.
    public func createLabel(boardID: Int64, actorID: Int64, name: String, color: String) async throws -> (Label, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Label, BoardEventDraft) in
            let rows = try await write.tx.query(
                """
                INSERT INTO labels (board_id, name, color, version) VALUES (\(boardID), \(name), \(color), \(write.version))
                ON CONFLICT (board_id, name) DO NOTHING
                RETURNING id
                """,
                logger: logger
            )
            var id: Int64?
            for try await value in rows.decode(Int64.self) { id = value }
            guard let id else { throw BoardError(.conflict(code: "label_exists", message: "The board already has a label with this name.")) }
            let label = Label(id: id, boardID: boardID, name: name, color: color, version: write.version)
            return (label, BoardEventDraft(kind: "label.created", payload: label))
        }
    }

    /// Renames or recolours a label; with `expectedVersion`, only if the label has not changed
    /// since that version (412 otherwise).
    public func updateLabel(
        boardID: Int64,
        labelID: Int64,
        actorID: Int64,
        name: String?,
        color: String?,
        expectedVersion: Int64? = nil
    ) async throws -> (Label, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Label, BoardEventDraft) in
            guard var label = try await self.labels(boardID: boardID, on: write.tx).first(where: { $0.id == labelID }) else {
                throw BoardError(.notFound("label"))
            }
            try Self.require(expectedVersion, matches: label, version: label.version, key: "label")
            if let name {
                let taken = try await write.tx.query(
                    "SELECT EXISTS (SELECT 1 FROM labels WHERE board_id = \(boardID) AND name = \(name) AND id <> \(labelID))",
                    logger: logger
                )
                for try await exists in taken.decode(Bool.self) where exists {
                    throw BoardError(.conflict(code: "label_exists", message: "The board already has a label with this name."))
                }
                label.name = name
            }
            if let color { label.color = color }
            label.version = write.version
            try await write.tx.query(
                """
                UPDATE labels SET name = \(label.name), color = \(label.color), version = \(label.version)
                WHERE id = \(labelID) AND board_id = \(boardID)
                """,
                logger: logger
            )
            return (label, BoardEventDraft(kind: "label.updated", payload: label))
        }
    }

    /// Deletes a label (it disappears from its cards).
    public func deleteLabel(boardID: Int64, labelID: Int64, actorID: Int64) async throws -> BoardEvent {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Void, BoardEventDraft) in
            let rows = try await write.tx.query("DELETE FROM labels WHERE id = \(labelID) AND board_id = \(boardID) RETURNING id", logger: logger)
            var found = false
            for try await _ in rows.decode(Int64.self) { found = true }
            guard found else { throw BoardError(.notFound("label")) }
            return ((), BoardEventDraft(kind: "label.deleted", payload: ["id": labelID]))
        }.1
    }
}
