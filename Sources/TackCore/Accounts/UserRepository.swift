import Foundation
import Logging
import PostgresNIO

/// Accounts in PostgreSQL: creation with validation, look-ups, password checks and changes.
public struct UserRepository: Sendable {
    let postgres: PostgresClient
    let hasher: PasswordHasher
    let logger: Logger

    /// Creates a repository on a running client.
    public init(postgres: PostgresClient, hasher: PasswordHasher, logger: Logger) {
        self.postgres = postgres
        self.hasher = hasher
        self.logger = logger
    }

    /// Validates and stores a new account. The email is normalised to lower case.
    ///
    /// - Throws: `AccountError` naming the field for bad input, `.emailTaken` for a duplicate email.
    public func create(email rawEmail: String, name rawName: String, password: String, isAdmin: Bool = false) async throws -> User {
        let email = try AccountRules.normalizedEmail(rawEmail)
        let name = try AccountRules.validatedName(rawName)
        try AccountRules.checkPassword(password, email: email, name: name)
        let hash = try await hasher.hash(password)
        do {
            let rows = try await postgres.boundedQuery(
                """
                INSERT INTO users (email, name, password_hash, is_admin)
                VALUES (\(email), \(name), \(hash), \(isAdmin))
                RETURNING id, email, name, is_admin, created_at
                """,
                logger: logger
            )
            for try await row in rows.decode((Int64, String, String, Bool, Date).self) {
                return User(id: row.0, email: row.1, name: row.2, isAdmin: row.3, createdAt: row.4)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AccountError(.emailTaken, field: "email", "An account with this email already exists.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23514" {
            // users_email_lower: a character whose lower case PostgreSQL and Swift disagree on.
            throw AccountError.invalid("email", "email must be an email address like name@example.com.")
        }
        throw AccountError(.userNotFound, "The account was not created.")
    }

    /// The account with this id.
    public func find(id: Int64) async throws -> User? {
        let rows = try await postgres.boundedQuery(
            """
            SELECT id, email, name, is_admin, created_at
            FROM users
            WHERE id = \(id)
            """,
            logger: logger
        )
        for try await row in rows.decode((Int64, String, String, Bool, Date).self) {
            return User(id: row.0, email: row.1, name: row.2, isAdmin: row.3, createdAt: row.4)
        }
        return nil
    }

    /// The account with this email (normalised before the look-up); nil for no account or a malformed email.
    public func find(email rawEmail: String) async throws -> User? {
        guard let email = try? AccountRules.normalizedEmail(rawEmail) else { return nil }
        return try await credentials(email: email)?.user
    }

    /// The account when `password` is its password. Unknown emails cost the same time as wrong
    /// passwords, so the answer's speed does not tell which emails have accounts.
    public func authenticate(email rawEmail: String, password: String) async throws -> User? {
        // No account has an impossible email or password, and saying so fast tells nothing about
        // accounts; it spares a bcrypt for every such attempt (a 1 MiB email is no longer a
        // quarter-second of CPU).
        guard let email = try? AccountRules.normalizedEmail(rawEmail), AccountRules.passwordLength.contains(password.count) else {
            return nil
        }
        guard let found = try await credentials(email: email) else {
            try await hasher.verifyNothing(password)
            return nil
        }
        return try await hasher.verify(password, hash: found.hash) ? found.user : nil
    }

    /// Changes a password after checking the current one, and ends the account's other sessions in
    /// the same transaction (whoever knew the old password is logged out). `keepingSession` is
    /// the caller's own session, which stays valid.
    ///
    /// - Throws: `.wrongPassword` (field `current_password`), or `.invalidField` (field `new_password`).
    public func changePassword(userID: Int64, currentPassword: String, newPassword: String, keepingSession: Int64?) async throws {
        guard let found = try await credentials(id: userID) else {
            throw AccountError(.userNotFound, "The account no longer exists.")
        }
        guard try await hasher.verify(currentPassword, hash: found.hash) else {
            throw AccountError(.wrongPassword, field: "current_password", "current_password is not the account's password.")
        }
        try AccountRules.checkPassword(newPassword, email: found.user.email, name: found.user.name, field: "new_password")
        guard newPassword != currentPassword else {
            throw AccountError.invalid("new_password", "new_password must differ from the current password.")
        }
        try await storePassword(userID: userID, newPassword: newPassword, keepingSession: keepingSession)
    }

    /// Sets a password without knowing the old one (an administrator's reset), ending every session
    /// of the account but `keepingSession`.
    public func setPassword(userID: Int64, newPassword: String, keepingSession: Int64? = nil) async throws {
        guard let found = try await find(id: userID) else { throw AccountError(.userNotFound, "The account no longer exists.") }
        try AccountRules.checkPassword(newPassword, email: found.email, name: found.name)
        try await storePassword(userID: userID, newPassword: newPassword, keepingSession: keepingSession)
    }

    private func storePassword(userID: Int64, newPassword: String, keepingSession: Int64?) async throws {
        let hash = try await hasher.hash(newPassword)
        let keep = keepingSession ?? -1
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            _ = try await tx.query(
                """
                UPDATE users
                SET password_hash = \(hash)
                WHERE id = \(userID)
                """,
                logger: logger
            )
            _ = try await tx.query(
                """
                DELETE FROM sessions
                WHERE user_id = \(userID) AND id <> \(keep)
                """,
                logger: logger
            )
        }
    }

    /// How many accounts exist (`create_user` says so when it makes the first one).
    public func count() async throws -> Int {
        let rows = try await postgres.boundedQuery(
            """
            SELECT count(*)
            FROM users
            """,
            logger: logger
        )
        for try await (n) in rows.decode(Int.self) { return n }
        return 0
    }

    private struct Credentials {
        var user: User
        var hash: String
    }

    private func credentials(email: String) async throws -> Credentials? {
        let rows = try await postgres.boundedQuery(
            """
            SELECT id, email, name, is_admin, created_at, password_hash
            FROM users
            WHERE email = \(email)
            """,
            logger: logger
        )
        for try await row in rows.decode((Int64, String, String, Bool, Date, String).self) {
            return Credentials(user: User(id: row.0, email: row.1, name: row.2, isAdmin: row.3, createdAt: row.4), hash: row.5)
        }
        return nil
    }

    private func credentials(id: Int64) async throws -> Credentials? {
        let rows = try await postgres.boundedQuery(
            """
            SELECT id, email, name, is_admin, created_at, password_hash
            FROM users
            WHERE id = \(id)
            """,
            logger: logger
        )
        for try await row in rows.decode((Int64, String, String, Bool, Date, String).self) {
            return Credentials(user: User(id: row.0, email: row.1, name: row.2, isAdmin: row.3, createdAt: row.4), hash: row.5)
        }
        return nil
    }
}
