import Foundation
import Logging
import PostgresNIO

/// Boards and everything on them. Every write goes through one pipeline (`commit`): lock, check,
/// apply, append its events through `EventLog`, commit, publish.
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
        for (role, version) in try await postgres.boundedExecute(AccessQuery(boardID: boardID, userID: userID), logger: logger) {
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

    /// What a write's body works with: its transaction, the locked board, and the version its
    /// (first) event will get, which is also the version every object it changes is stamped with.
    struct BoardWrite: Sendable {
        /// The transaction, holding the board's row lock.
        let tx: PostgresConnection
        /// The board.
        let boardID: Int64
        /// The board as locked: its version before the write, the transaction's time, the writers' roles.
        let board: LockedBoard
        /// The single writer's role (the first of `board.roles`, checked by `write`).
        var role: BoardRole { board.roles.first.flatMap { $0 } ?? .viewer }
        /// The version of the write's first event.
        var version: Int64 { board.version + 1 }
    }

    /// Which board a write goes to: an existing one, or one the write creates first (in the same
    /// transaction, before the lock, so the new board's first event goes through the same steps).
    enum WriteTarget: Sendable {
        case existing(Int64)
        case new(@Sendable (PostgresConnection) async throws -> Int64)
    }

    /// The one write pipeline every board write goes through: in one transaction, lock the board
    /// row (versions are gap-free and what the body reads cannot change under it) with the
    /// writers' roles → the body checks what it needs and applies its change, describing it as
    /// event drafts (one per change, each with its actor) → `EventLog.append` stores them at the
    /// next versions → commit → publish.
    func commit<T: Sendable>(
        _ target: WriteTarget,
        actorIDs: [Int64],
        _ body: @escaping @Sendable (BoardWrite) async throws -> (T, [BoardEventDraft])
    ) async throws -> (T, [BoardEvent]) {
        let logger = self.logger
        let (value, events) = try await transaction { tx -> (T, [BoardEvent]) in
            let boardID: Int64
            switch target {
            case .existing(let id): boardID = id
            case .new(let create): boardID = try await create(tx)
            }
            let board = try await self.lock(boardID: boardID, actorIDs: actorIDs, on: tx)
            let (value, drafts) = try await body(BoardWrite(tx: tx, boardID: boardID, board: board))
            let events = try await EventLog.append(drafts, boardID: boardID, after: board.version, on: tx, logger: logger)
            return (value, events)
        }
        await publisher.publish(events)
        return (value, events)
    }

    /// A write by one actor whose role must be at least `minimum`, producing one event.
    func write<T: Sendable>(
        boardID: Int64,
        actorID: Int64,
        minimum: BoardRole,
        _ body: @escaping @Sendable (BoardWrite) async throws -> (T, BoardEventDraft)
    ) async throws -> (T, BoardEvent) {
        let (value, events) = try await commit(.existing(boardID), actorIDs: [actorID]) { write -> (T, [BoardEventDraft]) in
            _ = try Self.check(write.board.roles[0], minimum: minimum)
            var (value, draft) = try await body(write)
            draft.actorID = actorID
            return (value, [draft])
        }
        return (value, events[0])
    }

    /// Throws 412 with the object as it is now when the writer based a change on another version.
    static func require(_ expected: Int64?, matches current: some Encodable, version: Int64, key: String) throws {
        guard let expected, expected != version else { return }
        throw BoardError(.stale(key: key, current: BoardEventDraft.encode(current)))
    }

    /// A transaction whose body's own errors (a broken rule) come out as they were thrown, not
    /// wrapped in postgres-nio's `PostgresTransactionError`; the rollback has happened either way.
    ///
    /// The connection is bounded (`withBoundedTransaction`: `database.acquire_timeout`,
    /// `database.statement_timeout`, read-only connections dropped). A failure before COMMIT was sent
    /// (the connection lost, the server read-only or shutting down) rolled everything back, so the
    /// transaction is tried once more: after a failover the pool's next connection reaches the new
    /// primary.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await postgres.withBoundedTransaction(logger: logger) { try await body($0) }
            } catch let error as PostgresTransactionError {
                if attempt == 1, error.commitError == nil, Self.retryableBeforeCommit(error.beginError ?? error.closureError) {
                    logger.info("retrying a transaction cut before COMMIT", metadata: ["tack.error": "\(Database.reason(error))"])
                    continue
                }
                throw error.thrownByBody
            } catch let error as DatabaseReadOnly where attempt == 1 && !error.duringCommit {
                logger.info("retrying a transaction refused as read-only", metadata: ["tack.error": "\(error)"])
                continue
            }
        }
    }

    /// A connection failure, a read-only server or a server shutting down (before COMMIT).
    static func retryableBeforeCommit(_ error: (any Error)?) -> Bool {
        guard let error else { return false }
        if error is DatabaseReadOnly || Database.isReadOnly(error) { return true }
        guard let psql = error as? PSQLError else { return false }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown: return true
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default: return false
        }
    }

    // MARK: - Boards

    /// Boards the user is a member of, newest first, `limit` after the cursor id.
    public func boards(userID: Int64, includeArchived: Bool, limit: Int, before cursor: Int64?) async throws -> [Board] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT b.id, b.name, b.description, b.version, b.changed_version, m.role, b.created_at, b.archived_at IS NOT NULL
            FROM boards b
            JOIN board_members m ON m.board_id = b.id AND m.user_id = \(userID)
            WHERE (\(includeArchived) OR b.archived_at IS NULL) AND (\(cursor)::BIGINT IS NULL OR b.id < \(cursor))
            ORDER BY b.id DESC
            LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [Board] = []
        for try await (id, name, description, version, changed, role, createdAt, archived) in rows.decode(
            (Int64, String, String, Int64, Int64, String, Date, Bool).self
        ) {
            result.append(
                Board(
                    id: id,
                    name: name,
                    description: description,
                    version: version,
                    changedVersion: changed,
                    role: BoardRole(rawValue: role) ?? .viewer,
                    createdAt: createdAt,
                    archived: archived
                )
            )
        }
        return result
    }

    /// Creates a board owned by its creator, with its first event (version 1).
    public func createBoard(name: String, description: String, creatorID: Int64) async throws -> (Board, BoardEvent) {
        let logger = self.logger
        let create: @Sendable (PostgresConnection) async throws -> Int64 = { tx in
            try await Self.insertBoard(name: name, description: description, ownerID: creatorID, on: tx, logger: logger)
        }
        let (board, events) = try await commit(.new(create), actorIDs: [creatorID]) { write -> (Board, [BoardEventDraft]) in
            let board = Board(
                id: write.boardID,
                name: name,
                description: description,
                version: write.version,
                changedVersion: write.version,
                role: .owner,
                createdAt: write.board.now,
                archived: false
            )
            return (board, [BoardEventDraft(kind: "board.created", payload: BoardPayload(board), actorID: creatorID)])
        }
        return (board, events[0])
    }

    /// Inserts a board owned by `ownerID` (the first step of a `.new` write); its first event will
    /// be version 1, which is when its name and description were set.
    static func insertBoard(name: String, description: String, ownerID: Int64, on tx: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await tx.query(
            """
            WITH board AS (
                INSERT INTO boards (name, description, created_by, changed_version)
                VALUES (\(name), \(description), \(ownerID), 1)
                RETURNING id
            ), member AS (
                INSERT INTO board_members (board_id, user_id, role) SELECT id, \(ownerID), 'owner' FROM board
            )
            SELECT id FROM board
            """,
            logger: logger
        )
        for try await id in rows.decode(Int64.self) { return id }
        throw BoardError(.notFound("board"))
    }

    /// A board in its events: what every member sees alike (no role, no current version).
    struct BoardPayload: Encodable {
        let id: Int64
        let name: String
        let description: String
        let archived: Bool
        let changedVersion: Int64

        init(_ board: Board) {
            id = board.id
            name = board.name
            description = board.description
            archived = board.archived
            changedVersion = board.changedVersion
        }
    }

    /// Renames, re-describes or (un)archives a board (admin); with `expectedVersion`, only if the
    /// board's own fields have not changed since that version (412 otherwise).
    public func updateBoard(
        boardID: Int64,
        actorID: Int64,
        name: String?,
        description: String?,
        archived: Bool?,
        expectedVersion: Int64? = nil
    ) async throws -> (Board, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .admin) { write -> (Board, BoardEventDraft) in
            let rows = try await write.tx.query(
                """
                SELECT name, description, changed_version, created_at, archived_at IS NOT NULL FROM boards WHERE id = \(boardID)
                """,
                logger: logger
            )
            var found: Board?
            for try await (name, description, changed, createdAt, archived) in rows.decode((String, String, Int64, Date, Bool).self) {
                found = Board(
                    id: boardID,
                    name: name,
                    description: description,
                    version: write.board.version,
                    changedVersion: changed,
                    role: write.role,
                    createdAt: createdAt,
                    archived: archived
                )
            }
            guard var board = found else { throw BoardError(.notFound("board")) }
            try Self.require(expectedVersion, matches: board, version: board.changedVersion, key: "board")
            if let name { board.name = name }
            if let description { board.description = description }
            if let archived { board.archived = archived }
            board.version = write.version
            board.changedVersion = write.version
            try await write.tx.query(
                """
                UPDATE boards SET
                    name = \(board.name), description = \(board.description), changed_version = \(write.version),
                    archived_at = CASE WHEN \(board.archived) THEN COALESCE(archived_at, now()) ELSE NULL END
                WHERE id = \(boardID)
                """,
                logger: logger
            )
            return (board, BoardEventDraft(kind: "board.updated", payload: BoardPayload(board)))
        }
    }

    /// Deletes a board and everything on it (owner). No event: the board's log goes with it.
    public func deleteBoard(boardID: Int64, actorID: Int64) async throws {
        _ = try await requireRole(boardID: boardID, userID: actorID, minimum: .owner)
        try await postgres.boundedQuery("DELETE FROM boards WHERE id = \(boardID)", logger: logger)
    }

    /// The whole board at one version, read in a repeatable-read transaction so content and version agree.
    public func snapshot(boardID: Int64, userID: Int64) async throws -> BoardSnapshot {
        let logger = self.logger
        return try await postgres.withBoundedConnection(logger: logger) { connection in
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
        let boardRows = try await connection.query(
            """
            SELECT b.id, b.name, b.description, b.version, b.changed_version, m.role, b.created_at, b.archived_at IS NOT NULL
            FROM boards b JOIN board_members m ON m.board_id = b.id AND m.user_id = \(userID)
            WHERE b.id = \(boardID)
            """,
            logger: logger
        )
        var board: Board?
        for try await (id, name, description, version, changed, role, createdAt, archived) in boardRows.decode(
            (Int64, String, String, Int64, Int64, String, Date, Bool).self
        ) {
            board = Board(
                id: id,
                name: name,
                description: description,
                version: version,
                changedVersion: changed,
                role: BoardRole(rawValue: role) ?? .viewer,
                createdAt: createdAt,
                archived: archived
            )
        }
        guard let board else { throw BoardError(.notFound("board")) }
        let columns = try await columns(boardID: boardID, on: connection)
        let cards = try await cards(boardID: boardID, cardID: nil, includeArchived: false, on: connection)
        let labels = try await labels(boardID: boardID, on: connection)
        let members = try await members(boardID: boardID, on: connection)
        return BoardSnapshot(board: board, columns: columns, cards: cards, labels: labels, members: members)
    }

    // MARK: - Reads shared by snapshot and single-resource endpoints

    /// The board's columns in order: those on the board, or with `archived` those archived instead.
    func columns(boardID: Int64, archived: Bool = false, on connection: PostgresConnection) async throws -> [BoardColumn] {
        try await allColumns(boardID: boardID, on: connection).filter { $0.archived == archived }
    }

    /// Every column of the board, archived or not, in order (writes find a column and place one
    /// among them; positions are computed among the columns on the board).
    func allColumns(boardID: Int64, on connection: PostgresConnection) async throws -> [BoardColumn] {
        let rows = try await connection.query(
            """
            SELECT id, board_id, name, position, wip_limit, version, archived_at IS NOT NULL FROM columns
            WHERE board_id = \(boardID) ORDER BY position
            """,
            logger: logger
        )
        var result: [BoardColumn] = []
        for try await (id, board, name, position, wip, version, archived) in rows.decode((Int64, Int64, String, String, Int?, Int64, Bool).self) {
            result.append(BoardColumn(id: id, boardID: board, name: name, position: position, wipLimit: wip, version: version, archived: archived))
        }
        return result
    }

    func cards(boardID: Int64, cardID: Int64?, includeArchived: Bool, on connection: PostgresConnection) async throws -> [Card] {
        let rows = try await connection.query(
            """
            SELECT c.id, c.board_id, c.column_id, c.title, c.description, c.position, c.due_at, c.done, c.archived,
                   c.created_by, c.created_at, c.updated_at, c.version, c.due_has_time, c.cover_attachment_id,
                   COALESCE((SELECT array_agg(a.user_id ORDER BY a.user_id) FROM card_assignees a WHERE a.card_id = c.id), '{}'),
                   COALESCE((SELECT array_agg(l.label_id ORDER BY l.label_id) FROM card_labels l WHERE l.card_id = c.id), '{}'),
                   (SELECT count(*) FROM comments cm WHERE cm.card_id = c.id),
                   (SELECT ARRAY[count(*), count(*) FILTER (WHERE i.done)] FROM checklist_items i WHERE i.card_id = c.id)
            FROM cards c
            JOIN columns col ON col.id = c.column_id
            WHERE c.board_id = \(boardID) AND (\(cardID)::BIGINT IS NULL OR c.id = \(cardID))
              AND (\(includeArchived) OR NOT c.archived)
              -- A card of an archived column is off the board with it (still readable by its id).
              AND (\(cardID)::BIGINT IS NOT NULL OR col.archived_at IS NULL)
            ORDER BY col.position, c.position
            """,
            logger: logger
        )
        var result: [Card] = []
        for try await row in rows.decode(
            (
                Int64, Int64, Int64, String, String, String, Date?, Bool, Bool, Int64?, Date, Date, Int64, Bool, Int64?, [Int64], [Int64], Int64,
                [Int64]
            ).self
        ) {
            result.append(
                Card(
                    id: row.0,
                    boardID: row.1,
                    columnID: row.2,
                    title: row.3,
                    description: row.4,
                    position: row.5,
                    dueAt: row.6,
                    dueHasTime: row.13,
                    done: row.7,
                    archived: row.8,
                    assignees: row.15,
                    labels: row.16,
                    createdBy: row.9,
                    createdAt: row.10,
                    updatedAt: row.11,
                    version: row.12,
                    commentCount: Int(row.17),
                    checklistProgress: ChecklistProgress(total: Int(row.18[0]), done: Int(row.18[1])),
                    coverAttachmentID: row.14
                )
            )
        }
        return result
    }

    func labels(boardID: Int64, on connection: PostgresConnection) async throws -> [Label] {
        let rows = try await connection.query(
            """
            SELECT id, board_id, name, color, version FROM labels WHERE board_id = \(boardID) ORDER BY name
            """,
            logger: logger
        )
        var result: [Label] = []
        for try await (id, board, name, color, version) in rows.decode((Int64, Int64, String, String, Int64).self) {
            result.append(Label(id: id, boardID: board, name: name, color: color, version: version))
        }
        return result
    }

    func members(boardID: Int64, on connection: PostgresConnection) async throws -> [BoardMember] {
        let rows = try await connection.query(
            """
            SELECT u.id, u.name, u.email, m.role FROM board_members m JOIN users u ON u.id = m.user_id
            WHERE m.board_id = \(boardID) ORDER BY u.name, u.id
            """,
            logger: logger
        )
        var result: [BoardMember] = []
        for try await (id, name, email, role) in rows.decode((Int64, String, String, String).self) {
            result.append(BoardMember(userID: id, name: name, email: email, role: BoardRole(rawValue: role) ?? .viewer))
        }
        return result
    }
}
