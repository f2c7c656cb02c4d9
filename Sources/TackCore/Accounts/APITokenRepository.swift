import Foundation
import Logging
import PostgresNIO

/// What a personal API token may do.
public enum APITokenScope: String, Sendable, Codable, CaseIterable {
    /// GET and HEAD only.
    case read
    /// Everything its owner may do.
    case readWrite = "read_write"
}

/// A personal API token as listed to its owner: never the token itself.
public struct APIToken: Sendable, Equatable {
    /// Database id (used to revoke it).
    public var id: Int64
    /// Whose token it is.
    public var userID: Int64
    /// The owner's label for it ("CI", "backup script").
    public var name: String
    /// What it may do.
    public var scope: APITokenScope
    /// When it was made.
    public var createdAt: Date
    /// When it was last used (to within a minute), if ever.
    public var lastUsedAt: Date?
}

/// A live token with its account, as found by the secret.
public struct APITokenLookup: Sendable {
    /// The token.
    public var token: APIToken
    /// Its owner.
    public var user: User
}

/// Personal API tokens in PostgreSQL: `tack_pat_` + 32 random bytes (base64url), shown once at
/// creation, stored as SHA-256 only, revocable.
public struct APITokenRepository: Sendable {
    /// Every token starts with this, so secret scanners and people recognise one.
    public static let prefix = "tack_pat_"
    /// Token name length bounds, in characters, after trimming.
    public static let nameLength = 1...100

    let postgres: PostgresClient
    let logger: Logger

    /// Creates a repository on a running client.
    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    /// Makes a token; the returned secret is the only copy there will ever be.
    ///
    /// - Throws: `AccountError` naming `name` when the label is empty or too long.
    public func create(userID: Int64, name rawName: String, scope: APITokenScope) async throws -> (secret: String, token: APIToken) {
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.nameLength.contains(name.count) else {
            throw AccountError.invalid("name", name.isEmpty ? "name is required." : "name must be at most \(Self.nameLength.upperBound) characters.")
        }
        guard name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw AccountError.invalid("name", "name must not contain control characters.")
        }
        let secret = Self.prefix + SecretToken.generate()
        let digest = SecretToken.digest(secret)
        let rows = try await postgres.boundedQuery(
            """
            INSERT INTO api_tokens (user_id, name, token_hash, scope)
            VALUES (\(userID), \(name), \(digest), \(scope.rawValue))
            RETURNING id, created_at
            """,
            logger: logger
        )
        for try await (id, createdAt) in rows.decode((Int64, Date).self) {
            return (secret, APIToken(id: id, userID: userID, name: name, scope: scope, createdAt: createdAt, lastUsedAt: nil))
        }
        throw AccountError(.userNotFound, "The token was not created.")
    }

    /// The user's tokens that are not revoked, newest first.
    public func list(userID: Int64) async throws -> [APIToken] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT id, name, scope, created_at, last_used_at
            FROM api_tokens
            WHERE user_id = \(userID) AND revoked_at IS NULL
            ORDER BY id DESC
            """,
            logger: logger
        )
        var tokens: [APIToken] = []
        for try await (id, name, scope, createdAt, lastUsedAt) in rows.decode((Int64, String, String, Date, Date?).self) {
            tokens.append(
                APIToken(
                    id: id,
                    userID: userID,
                    name: name,
                    scope: APITokenScope(rawValue: scope) ?? .read,
                    createdAt: createdAt,
                    lastUsedAt: lastUsedAt
                )
            )
        }
        return tokens
    }

    /// Revokes one of the user's tokens; false when the user has no such live token.
    public func revoke(id: Int64, userID: Int64) async throws -> Bool {
        let rows = try await postgres.boundedQuery(
            """
            UPDATE api_tokens
            SET revoked_at = now()
            WHERE id = \(id) AND user_id = \(userID) AND revoked_at IS NULL
            RETURNING id
            """,
            logger: logger
        )
        return try await !rows.collect().isEmpty
    }

    /// The live token for `secret` with its owner; nil for unknown, malformed or revoked tokens.
    /// Records the use, at most once a minute per token.
    public func lookup(secret: String) async throws -> APITokenLookup? {
        guard secret.hasPrefix(Self.prefix), SecretToken.isWellFormed(secret.dropFirst(Self.prefix.count)) else { return nil }
        var found: FindToken.Row?
        for row in try await postgres.boundedExecute(FindToken(digest: SecretToken.digest(secret)), logger: logger) { found = row }
        guard let row = found else { return nil }
        if row.due {
            _ = try await postgres.boundedQuery(
                """
                UPDATE api_tokens
                SET last_used_at = now()
                WHERE id = \(row.id)
                """,
                logger: logger
            )
        }
        let token = APIToken(
            id: row.id,
            userID: row.userID,
            name: row.name,
            scope: APITokenScope(rawValue: row.scope) ?? .read,
            createdAt: row.createdAt,
            lastUsedAt: row.due ? Date() : row.lastUsedAt
        )
        let user = User(id: row.userID, email: row.email, name: row.userName, isAdmin: row.isAdmin, createdAt: row.userCreatedAt)
        return APITokenLookup(token: token, user: user)
    }

    /// The token look-up runs on every scripted request: a prepared statement.
    struct FindToken: PostgresPreparedStatement {
        static let sql = """
            SELECT t.id, t.user_id, t.name, t.scope, t.created_at, t.last_used_at,
                   t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds' AS due,
                   u.email, u.name, u.is_admin, u.created_at
            FROM api_tokens t
            JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL
            """

        struct Row: Sendable {
            var id: Int64
            var userID: Int64
            var name: String
            var scope: String
            var createdAt: Date
            var lastUsedAt: Date?
            var due: Bool
            var email: String
            var userName: String
            var isAdmin: Bool
            var userCreatedAt: Date
        }

        var digest: Data

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            try bindings.append(digest)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (id, userID, name, scope, createdAt, lastUsedAt, due, email, userName, isAdmin, userCreatedAt) =
                try row.decode((Int64, Int64, String, String, Date, Date?, Bool, String, String, Bool, Date).self)
            return Row(
                id: id,
                userID: userID,
                name: name,
                scope: scope,
                createdAt: createdAt,
                lastUsedAt: lastUsedAt,
                due: due,
                email: email,
                userName: userName,
                isAdmin: isAdmin,
                userCreatedAt: userCreatedAt
            )
        }
    }
}
