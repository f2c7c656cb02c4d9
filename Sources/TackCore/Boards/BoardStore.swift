import Foundation
import Logging
import PostgresNIO

/// Boards and everything on them. Every write runs in one transaction that also appends its board
/// event (see `EventLog.insert`), then the event is published after commit.
public struct BoardStore: Sendable {
    let postgres: PostgresClient
    let publisher: EventPublisher
    let logger: Logger
    /// Cards being created, batched per board (see `createCard`).
    let newCards = GroupCommit<Int64, NewCard, Result<(Card, BoardEvent), any Error>>(limit: 256)

    /// Creates the store.
    public init(postgres: PostgresClient, publisher: EventPublisher, logger: Logger) {
        self.postgres = postgres
        self.publisher = publisher
        self.logger = logger
    }

    // MARK: - Access

    /// The user's role on the board, or nil when the board does not exist or the user is not a member.
    public func role(boardID: Int64, userID: Int64) async throws -> BoardRole? {
        try await access(boardID: boardID, userID: userID)?.role
    }

    /// The user's role on the board with the board's current version, or nil when the board does
    /// not exist or the user is not a member. One prepared statement: every board read starts here.
    public func access(boardID: Int64, userID: Int64) async throws -> BoardAccess? {
        for try await (role, version) in try await postgres.execute(AccessQuery(boardID: boardID, userID: userID), logger: logger) {
            return BoardAccess(role: BoardRole(rawValue: role) ?? .viewer, version: version)
        }
        return nil
    }

    /// The role, or 404 for a non-member (who may not learn the board exists), 403 when too low.
    public func requireRole(boardID: Int64, userID: Int64, minimum: BoardRole) async throws -> BoardRole {
        try Self.check(try await role(boardID: boardID, userID: userID), minimum: minimum)
    }

    struct AccessQuery: PostgresPreparedStatement {
        static let sql = """
            SELECT m.role, b.version
            FROM board_members m
            JOIN boards b ON b.id = m.board_id
            WHERE m.board_id = $1 AND m.user_id = $2
            """
        typealias Row = (String, Int64)

        var boardID: Int64
        var userID: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(boardID)
            bindings.append(userID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// A board locked for writing: its version before the write, the transaction's time (`now()`,
    /// the same in every statement of the transaction), and each writer's role (nil for a
    /// non-member).
    struct LockedBoard: Sendable {
        var version: Int64
        var now: Date
        var roles: [BoardRole?]
    }

    /// Inside a transaction: locks the board row, so writes to one board run one at a time, what a
    /// write reads (neighbour positions, counts) cannot change under it, and versions are gap-free.
    /// Throws 404 when the board does not exist.
    func lock(boardID: Int64, actorIDs: [Int64], on tx: PostgresConnection) async throws -> LockedBoard {
        for try await (version, now, roles) in try await tx.execute(LockQuery(boardID: boardID, actorIDs: actorIDs), logger: logger) {
            return LockedBoard(version: version, now: now, roles: roles.map { BoardRole(rawValue: $0) })
        }
        throw BoardError(.notFound("board"))
    }

    /// A writer's role from `LockedBoard.roles` when it is at least `minimum`; 404 for a non-member, 403 when too low.
    static func check(_ role: BoardRole?, minimum: BoardRole) throws -> BoardRole {
        guard let role else { throw BoardError(.notFound("board")) }
        guard role >= minimum else { throw BoardError(.forbidden("This needs the \(minimum.rawValue) role on the board; you are \(role.rawValue).")) }
        return role
    }

    struct LockQuery: PostgresPreparedStatement {
        /// Roles in the order of the actor ids; '' for a non-member.
        static let sql = """
            SELECT b.version, now(),
                   ARRAY(SELECT COALESCE(m.role, '')
                         FROM unnest($2::BIGINT[]) WITH ORDINALITY AS a(user_id, n)
                         LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = a.user_id
                         ORDER BY a.n)
            FROM boards b
            WHERE b.id = $1
            FOR UPDATE OF b
            """
        typealias Row = (Int64, Date, [String])

        var boardID: Int64
        var actorIDs: [Int64]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(boardID)
            bindings.append(actorIDs)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Runs `body` in a transaction after locking the board and checking the actor's role in it,
    /// appends the event the body describes, commits, then publishes the event.
    func write<T: Sendable>(
        boardID: Int64, actorID: Int64, minimum: BoardRole,
        _ body: @Sendable (PostgresConnection, BoardRole) async throws -> (T, BoardEventDraft)
    ) async throws -> (T, BoardEvent) {
        let logger = self.logger
        let (value, event) = try await transaction { tx -> (T, BoardEvent) in
            let board = try await self.lock(boardID: boardID, actorIDs: [actorID], on: tx)
            let role = try Self.check(board.roles[0], minimum: minimum)
            let (value, draft) = try await body(tx, role)
            let event = try await EventLog.insert(draft, boardID: boardID, version: board.version + 1, actorID: actorID, on: tx, logger: logger)
            return (value, event)
        }
        await publisher.publish([event])
        return (value, event)
    }

    /// A transaction whose body's own errors (a broken rule) come out as they were thrown, not
    /// wrapped in postgres-nio's `PostgresTransactionError`; the rollback has happened either way.
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await postgres.withTransaction(logger: logger) { try await body($0) }
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError, error.rollbackError == nil { throw inner }
            throw error
        }
    }

    // MARK: - Boards

    /// Boards the user is a member of, newest first, `limit` after the cursor id.
    public func boards(userID: Int64, includeArchived: Bool, limit: Int, before cursor: Int64?) async throws -> [Board] {
        let rows = try await postgres.query("""
            SELECT b.id, b.name, b.description, b.version, m.role, b.created_at, b.archived_at IS NOT NULL
            FROM boards b
            JOIN board_members m ON m.board_id = b.id AND m.user_id = \(userID)
            WHERE (\(includeArchived) OR b.archived_at IS NULL) AND (\(cursor)::BIGINT IS NULL OR b.id < \(cursor))
            ORDER BY b.id DESC
            LIMIT \(limit)
            """, logger: logger)
        var result: [Board] = []
        for try await (id, name, description, version, role, createdAt, archived) in rows.decode((Int64, String, String, Int64, String, Date, Bool).self) {
            result.append(Board(id: id, name: name, description: description, version: version, role: BoardRole(rawValue: role) ?? .viewer,
                                createdAt: createdAt, archived: archived))
        }
        return result
    }

    /// Creates a board owned by its creator, with its first event (version 1).
    public func createBoard(name: String, description: String, creatorID: Int64) async throws -> (Board, BoardEvent) {
        let logger = self.logger
        let (board, event) = try await transaction { tx -> (Board, BoardEvent) in
            let rows = try await tx.query("""
                INSERT INTO boards (name, description, created_by)
                VALUES (\(name), \(description), \(creatorID))
                RETURNING id, created_at
                """, logger: logger)
            var created: (Int64, Date)?
            for try await row in rows.decode((Int64, Date).self) { created = row }
            guard let (id, createdAt) = created else { throw BoardError(.notFound("board")) }
            try await tx.query("""
                INSERT INTO board_members (board_id, user_id, role) VALUES (\(id), \(creatorID), 'owner')
                """, logger: logger)
            let board = Board(id: id, name: name, description: description, version: 1, role: .owner, createdAt: createdAt, archived: false)
            let event = try await EventLog.insert(BoardEventDraft(kind: "board.created", payload: BoardPayload(board)), boardID: id,
                                                  version: board.version, actorID: creatorID, on: tx, logger: logger)
            return (board, event)
        }
        await publisher.publish([event])
        return (board, event)
    }

    struct BoardPayload: Encodable {
        let id: Int64
        let name: String
        let description: String
        let archived: Bool
        init(_ board: Board) {
            id = board.id
            name = board.name
            description = board.description
            archived = board.archived
        }
    }

    /// Renames, re-describes or (un)archives a board (admin).
    public func updateBoard(boardID: Int64, actorID: Int64, name: String?, description: String?, archived: Bool?) async throws -> (Board, BoardEvent) {
        let logger = self.logger
        let (board, event) = try await write(boardID: boardID, actorID: actorID, minimum: .admin) { tx, role -> (Board, BoardEventDraft) in
            let rows = try await tx.query("""
                UPDATE boards SET
                    name = COALESCE(\(name), name),
                    description = COALESCE(\(description), description),
                    archived_at = CASE WHEN \(archived)::BOOLEAN IS NULL THEN archived_at
                                       WHEN \(archived)::BOOLEAN THEN COALESCE(archived_at, now()) ELSE NULL END
                WHERE id = \(boardID)
                RETURNING id, name, description, version, created_at, archived_at IS NOT NULL
                """, logger: logger)
            for try await (id, name, description, version, createdAt, archived) in rows.decode((Int64, String, String, Int64, Date, Bool).self) {
                let board = Board(id: id, name: name, description: description, version: version, role: role, createdAt: createdAt, archived: archived)
                return (board, BoardEventDraft(kind: "board.updated", payload: BoardPayload(board)))
            }
            throw BoardError(.notFound("board"))
        }
        // The body read the version before its event's.
        var updated = board
        updated.version = event.version
        return (updated, event)
    }

    /// Deletes a board and everything on it (owner). No event: the board's log goes with it.
    public func deleteBoard(boardID: Int64, actorID: Int64) async throws {
        _ = try await requireRole(boardID: boardID, userID: actorID, minimum: .owner)
        try await postgres.query("DELETE FROM boards WHERE id = \(boardID)", logger: logger)
    }

    /// The whole board at one version, read in a repeatable-read transaction so content and version agree.
    public func snapshot(boardID: Int64, userID: Int64) async throws -> BoardSnapshot {
        let logger = self.logger
        return try await postgres.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let snapshot = try await self.readSnapshot(boardID: boardID, userID: userID, on: connection)
                try await connection.query("COMMIT", logger: logger)
                return snapshot
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private func readSnapshot(boardID: Int64, userID: Int64, on connection: PostgresConnection) async throws -> BoardSnapshot {
        let boardRows = try await connection.query("""
            SELECT b.id, b.name, b.description, b.version, m.role, b.created_at, b.archived_at IS NOT NULL
            FROM boards b JOIN board_members m ON m.board_id = b.id AND m.user_id = \(userID)
            WHERE b.id = \(boardID)
            """, logger: logger)
        var board: Board?
        for try await (id, name, description, version, role, createdAt, archived) in boardRows.decode((Int64, String, String, Int64, String, Date, Bool).self) {
            board = Board(id: id, name: name, description: description, version: version, role: BoardRole(rawValue: role) ?? .viewer,
                          createdAt: createdAt, archived: archived)
        }
        guard let board else { throw BoardError(.notFound("board")) }
        let columns = try await columns(boardID: boardID, on: connection)
        let cards = try await cards(boardID: boardID, cardID: nil, includeArchived: false, on: connection)
        let labels = try await labels(boardID: boardID, on: connection)
        let members = try await members(boardID: boardID, on: connection)
        return BoardSnapshot(board: board, columns: columns, cards: cards, labels: labels, members: members)
    }

    // MARK: - Reads shared by snapshot and single-resource endpoints

    func columns(boardID: Int64, on connection: PostgresConnection) async throws -> [BoardColumn] {
        let rows = try await connection.query("""
            SELECT id, board_id, name, position, wip_limit FROM columns
            WHERE board_id = \(boardID) ORDER BY position
            """, logger: logger)
        var result: [BoardColumn] = []
        for try await (id, board, name, position, wip) in rows.decode((Int64, Int64, String, String, Int?).self) {
            result.append(BoardColumn(id: id, boardID: board, name: name, position: position, wipLimit: wip))
        }
        return result
    }

    func cards(boardID: Int64, cardID: Int64?, includeArchived: Bool, on connection: PostgresConnection) async throws -> [Card] {
        let rows = try await connection.query("""
            SELECT c.id, c.board_id, c.column_id, c.title, c.description, c.position, c.due_at, c.done, c.archived,
                   c.created_by, c.created_at, c.updated_at,
                   COALESCE((SELECT array_agg(a.user_id ORDER BY a.user_id) FROM card_assignees a WHERE a.card_id = c.id), '{}'),
                   COALESCE((SELECT array_agg(l.label_id ORDER BY l.label_id) FROM card_labels l WHERE l.card_id = c.id), '{}')
            FROM cards c
            JOIN columns col ON col.id = c.column_id
            WHERE c.board_id = \(boardID) AND (\(cardID)::BIGINT IS NULL OR c.id = \(cardID)) AND (\(includeArchived) OR NOT c.archived)
            ORDER BY col.position, c.position
            """, logger: logger)
        var result: [Card] = []
        for try await row in rows.decode((Int64, Int64, Int64, String, String, String, Date?, Bool, Bool, Int64?, Date, Date, [Int64], [Int64]).self) {
            result.append(Card(id: row.0, boardID: row.1, columnID: row.2, title: row.3, description: row.4, position: row.5, dueAt: row.6,
                               done: row.7, archived: row.8, assignees: row.12, labels: row.13, createdBy: row.9, createdAt: row.10, updatedAt: row.11))
        }
        return result
    }

    func labels(boardID: Int64, on connection: PostgresConnection) async throws -> [Label] {
        let rows = try await connection.query("""
            SELECT id, board_id, name, color FROM labels WHERE board_id = \(boardID) ORDER BY name
            """, logger: logger)
        var result: [Label] = []
        for try await (id, board, name, color) in rows.decode((Int64, Int64, String, String).self) {
            result.append(Label(id: id, boardID: board, name: name, color: color))
        }
        return result
    }

    func members(boardID: Int64, on connection: PostgresConnection) async throws -> [BoardMember] {
        let rows = try await connection.query("""
            SELECT u.id, u.name, u.email, m.role FROM board_members m JOIN users u ON u.id = m.user_id
            WHERE m.board_id = \(boardID) ORDER BY u.name, u.id
            """, logger: logger)
        var result: [BoardMember] = []
        for try await (id, name, email, role) in rows.decode((Int64, String, String, String).self) {
            result.append(BoardMember(userID: id, name: name, email: email, role: BoardRole(rawValue: role) ?? .viewer))
        }
        return result
    }
}
