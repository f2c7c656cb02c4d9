import Foundation
import Logging
import PostgresNIO

/// The per-board event log in PostgreSQL: the source of truth for live updates, resume, card history
/// and webhooks.
public struct EventLog: Sendable {
    let postgres: PostgresClient
    let logger: Logger

    /// Creates the log over a pool.
    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    /// Inside the caller's transaction, which holds the board's row lock (so versions have no
    /// gaps): stores `drafts` at the versions after `version`, in order, and sets the board's
    /// version to the last, in one statement. The only place events are written.
    static func append(
        _ drafts: [BoardEventDraft],
        boardID: Int64,
        after version: Int64,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [BoardEvent] {
        guard !drafts.isEmpty else { return [] }
        // Ids are positive: 0 stands for "none" in the arrays (NULLIF below).
        let kinds = drafts.map(\.kind)
        let actors = drafts.map { $0.actorID ?? 0 }
        let cards = drafts.map { $0.cardID ?? 0 }
        let payloads = drafts.map(\.payload)
        let last = version + Int64(drafts.count)
        let rows = try await connection.query(
            """
            WITH bumped AS (
                UPDATE boards SET version = \(last) WHERE id = \(boardID)
            )
            INSERT INTO events (board_id, version, kind, actor_id, card_id, payload)
            SELECT \(boardID), \(version) + d.n, d.kind, NULLIF(d.actor, 0), NULLIF(d.card, 0), d.payload::jsonb
            FROM unnest(\(kinds)::TEXT[], \(actors)::BIGINT[], \(cards)::BIGINT[], \(payloads)::TEXT[]) WITH ORDINALITY AS d(kind, actor, card, payload, n)
            RETURNING version, id, payload::text, created_at
            """,
            logger: logger
        )
        var events = [BoardEvent?](repeating: nil, count: drafts.count)
        for try await (v, id, payload, createdAt) in rows.decode((Int64, UUID, String, Date).self) {
            let n = Int(v - version) - 1
            guard events.indices.contains(n) else { continue }
            events[n] = BoardEvent(
                boardID: boardID,
                version: v,
                id: id,
                kind: drafts[n].kind,
                actorID: drafts[n].actorID,
                cardID: drafts[n].cardID,
                payload: payload,
                createdAt: createdAt
            )
        }
        let stored = events.compactMap { $0 }
        guard stored.count == drafts.count else { throw BoardMissing(boardID: boardID) }
        return stored
    }

    /// Thrown when an event insert returned no row.
    public struct BoardMissing: Error, Sendable {
        /// The board id.
        public let boardID: Int64
    }

    /// Events of a board after `version`, oldest first, at most `limit`.
    public func events(boardID: Int64, after version: Int64, limit: Int) async throws -> [BoardEvent] {
        try await Self.decode(
            postgres.boundedQuery(
                """
                SELECT board_id, version, id, kind, actor_id, card_id, payload::text, created_at
                FROM events
                WHERE board_id = \(boardID) AND version > \(version)
                ORDER BY version
                LIMIT \(limit)
                """,
                logger: logger
            )
        )
    }

    /// Events of one card, newest first (card history).
    public func cardHistory(boardID: Int64, cardID: Int64, limit: Int) async throws -> [BoardEvent] {
        try await Self.decode(
            postgres.boundedQuery(
                """
                SELECT board_id, version, id, kind, actor_id, card_id, payload::text, created_at
                FROM events
                WHERE card_id = \(cardID) AND board_id = \(boardID)
                ORDER BY version DESC
                LIMIT \(limit)
                """,
                logger: logger
            )
        )
    }

    /// Events not yet published to Redis and older than `olderThan` (so the relay does not race
    /// the web process that is about to publish them), oldest first.
    public func unpublished(olderThan: Duration, limit: Int) async throws -> [BoardEvent] {
        let seconds = olderThan.inSeconds
        return try await Self.decode(
            postgres.boundedQuery(
                """
                SELECT board_id, version, id, kind, actor_id, card_id, payload::text, created_at
                FROM events
                WHERE published_at IS NULL AND created_at < now() - make_interval(secs => \(seconds))
                ORDER BY created_at, board_id, version
                LIMIT \(limit)
                """,
                logger: logger
            )
        )
    }

    /// Rows of `SELECT board_id, version, id, kind, actor_id, card_id, payload::text, created_at`.
    static func decode(_ rows: BoundedRows) async throws -> [BoardEvent] {
        var result: [BoardEvent] = []
        for try await (board, v, id, kind, actor, card, payload, at) in rows.decode((Int64, Int64, UUID, String, Int64?, Int64?, String, Date).self) {
            result.append(BoardEvent(boardID: board, version: v, id: id, kind: kind, actorID: actor, cardID: card, payload: payload, createdAt: at))
        }
        return result
    }

    /// Records that these events reached Redis.
    public func markPublished(_ events: [BoardEvent]) async throws {
        guard !events.isEmpty else { return }
        let boards = events.map(\.boardID)
        let versions = events.map(\.version)
        try await postgres.boundedQuery(
            """
            UPDATE events SET published_at = now()
            FROM unnest(\(boards)::BIGINT[], \(versions)::BIGINT[]) AS p(board_id, version)
            WHERE events.board_id = p.board_id AND events.version = p.version AND events.published_at IS NULL
            """,
            logger: logger
        )
    }
}
