import Foundation
import Logging
import PostgresNIO

/// A browser session: a row in `sessions`, found by the SHA-256 of the token in the cookie.
public struct Session: Sendable, Equatable {
    /// Database id (never the token).
    public var id: Int64
    /// Whose session it is.
    public var userID: Int64
    /// When it ends unless used again.
    public var expiresAt: Date
}

/// A valid session with its account, as found by a token.
public struct SessionLookup: Sendable {
    /// The session.
    public var session: Session
    /// Its account.
    public var user: User
    /// True when this look-up extended the session (the cookie's lifetime should be extended too).
    public var renewed: Bool
}

/// Sessions in PostgreSQL. Tokens are 32 random bytes (base64url); only their SHA-256 is stored.
///
/// Expiry slides: a session used again lives `ttl` from that use. To keep the hot path a single
/// indexed read, the renewal write happens at most once per `renewalInterval` per session.
public struct SessionRepository: Sendable {
    let postgres: PostgresClient
    let ttl: Duration
    let renewalInterval: Duration
    let logger: Logger

    /// Creates a repository; `ttl` is `web.session_ttl`.
    public init(postgres: PostgresClient, ttl: Duration, renewalInterval: Duration = .seconds(60), logger: Logger) {
        self.postgres = postgres
        self.ttl = ttl
        self.renewalInterval = renewalInterval
        self.logger = logger
    }

    /// Starts a session for `userID`; returns the token (for the cookie; not kept anywhere) and the row.
    /// The user's sessions that have already expired are removed on the way.
    public func create(userID: Int64) async throws -> (token: String, session: Session) {
        let token = SecretToken.generate()
        let digest = SecretToken.digest(token)
        let seconds = ttl.wholeMilliseconds / 1000
        let rows = try await postgres.withBoundedTransaction(logger: logger) { tx in
            _ = try await tx.query(
                """
                DELETE FROM sessions
                WHERE user_id = \(userID) AND expires_at <= now()
                """,
                logger: logger
            )
            return try await tx.query(
                """
                INSERT INTO sessions (user_id, token_hash, expires_at)
                VALUES (\(userID), \(digest), now() + make_interval(secs => \(seconds)))
                RETURNING id, expires_at
                """,
                logger: logger
            ).collect()
        }
        guard let row = rows.first else { throw AccountError(.userNotFound, "The session was not created.") }
        let (id, expiresAt) = try row.decode((Int64, Date).self)
        return (token, Session(id: id, userID: userID, expiresAt: expiresAt))
    }

    /// The live session for `token` with its account, or nil for an unknown, malformed or expired token.
    /// Extends the session when it was last extended more than `renewalInterval` ago.
    public func lookup(token: String) async throws -> SessionLookup? {
        guard SecretToken.isWellFormed(token[...]) else { return nil }
        let statement = FindSession(digest: SecretToken.digest(token), renewalSeconds: renewalInterval.wholeMilliseconds / 1000)
        var found: FindSession.Row?
        let logger = self.logger
        found = try await postgres.withBoundedConnection(logger: logger) { connection in
            var last: FindSession.Row?
            for try await row in try await connection.execute(statement, logger: logger) { last = row }
            return last
        }
        guard let row = found else { return nil }
        let user = User(id: row.userID, email: row.email, name: row.name, isAdmin: row.isAdmin, createdAt: row.userCreatedAt)
        var session = Session(id: row.id, userID: row.userID, expiresAt: row.expiresAt)
        var renewed = false
        if row.due {
            let seconds = ttl.wholeMilliseconds / 1000
            let rows = try await postgres.boundedQuery(
                """
                UPDATE sessions
                SET last_seen_at = now(), expires_at = now() + make_interval(secs => \(seconds))
                WHERE id = \(row.id) AND expires_at > now()
                RETURNING expires_at
                """,
                logger: logger
            )
            for try await (expiresAt) in rows.decode(Date.self) {
                session.expiresAt = expiresAt
                renewed = true
            }
        }
        return SessionLookup(session: session, user: user, renewed: renewed)
    }

    /// Ends one session.
    public func delete(id: Int64) async throws {
        _ = try await postgres.boundedQuery(
            """
            DELETE FROM sessions
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    /// Ends every session of a user, except `keeping`; returns how many ended.
    @discardableResult
    public func deleteAll(userID: Int64, except keeping: Int64? = nil) async throws -> Int {
        let rows = try await postgres.boundedQuery(
            """
            DELETE FROM sessions
            WHERE user_id = \(userID) AND id <> \(keeping ?? -1)
            RETURNING id
            """,
            logger: logger
        )
        return try await rows.collect().count
    }

    /// The session look-up runs on every browser request: a prepared statement.
    struct FindSession: PostgresPreparedStatement {
        static let sql = """
            SELECT s.id, s.user_id, s.expires_at, s.last_seen_at < now() - make_interval(secs => $2) AS due,
                   u.email, u.name, u.is_admin, u.created_at
            FROM sessions s
            JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = $1 AND s.expires_at > now()
            """

        struct Row: Sendable {
            var id: Int64
            var userID: Int64
            var expiresAt: Date
            var due: Bool
            var email: String
            var name: String
            var isAdmin: Bool
            var userCreatedAt: Date
        }

        var digest: Data
        var renewalSeconds: Int

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            try bindings.append(digest)
            bindings.append(renewalSeconds)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (id, userID, expiresAt, due, email, name, isAdmin, createdAt) = try row.decode(
                (Int64, Int64, Date, Bool, String, String, Bool, Date).self
            )
            return Row(id: id, userID: userID, expiresAt: expiresAt, due: due, email: email, name: name, isAdmin: isAdmin, userCreatedAt: createdAt)
        }
    }
}
