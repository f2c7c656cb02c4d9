import Foundation
import Logging
import PostgresNIO

/// Forgotten passwords: a request by address, a link by email, a new password through the link.
///
/// A request costs the same whether an account has the address or not: the web process only
/// records it (`password_resets`), and the worker's email sweep looks the account up and sends the
/// link, or nothing. So neither the answer nor its speed tells who has an account. The link
/// (``SignedLink``, purpose `r`) is bound to the address and the account's password hash: it
/// works once (`used_at`), until the row's `expires_at`, and not after the password changed in any
/// other way.
public struct PasswordResets: Sendable {
    /// How long a link works.
    public static let lifetime: TimeInterval = 3600
    /// Requests recorded per address per hour; more answer 429 (the same for every address).
    public static let requestsPerHour = 3

    let postgres: PostgresClient
    let hasher: PasswordHasher
    let secret: String
    let logger: Logger

    /// Creates the store; `secret` is `secret_key`.
    public init(postgres: PostgresClient, hasher: PasswordHasher, secret: String, logger: Logger) {
        self.postgres = postgres
        self.hasher = hasher
        self.secret = secret
        self.logger = logger
    }

    /// The facts a reset link is bound to.
    public static func facts(email: String, passwordHash: String) -> [String] {
        [email, passwordHash]
    }

    /// Records a request for `rawEmail`. The same work and the same answer for every well-formed
    /// address.
    ///
    /// - Throws: `.invalidField` (field `email`) for something that is not an address;
    ///   `.tooManyRequests` after ``requestsPerHour`` requests for one address in an hour.
    public func request(email rawEmail: String) async throws {
        let email = try AccountRules.normalizedEmail(rawEmail)
        let lifetime = Self.lifetime
        let recorded = try await postgres.withBoundedTransaction(logger: logger) { tx -> Bool in
            // One request at a time per address, so the count below cannot be raced past.
            try await tx.query("SELECT pg_advisory_xact_lock(hashtextextended(\("password_reset:" + email), 0))", logger: logger)
            let rows = try await tx.query(
                """
                INSERT INTO password_resets (email, expires_at)
                SELECT \(email), now() + make_interval(secs => \(lifetime))
                WHERE (SELECT count(*) FROM password_resets WHERE email = \(email) AND created_at > now() - interval '1 hour')
                      < \(Self.requestsPerHour)
                RETURNING id
                """,
                logger: logger
            )
            for try await _ in rows.decode(Int64.self) { return true }
            return false
        }
        guard recorded else {
            throw AccountError(
                .tooManyRequests,
                field: "email",
                "Too many reset requests for this address in the last hour; use the link already sent, or try again later."
            )
        }
    }

    /// Sets a new password through `link`, ends every session of the account and uses the link up,
    /// in one transaction. Returns the account.
    ///
    /// - Throws: `.linkInvalid` (field `token`), `.linkExpired`, `.linkUsed`, or `.invalidField`
    ///   (field `password`) for a password the rules refuse.
    public func complete(link: String, newPassword: String) async throws -> User {
        guard let id = SignedLink.id(of: link, purpose: .passwordReset) else { throw Self.invalidLink }
        // Checked before the transaction: hashing takes a quarter of a second, no lock is held for it.
        guard let user = try await check(link: link, id: id) else { throw Self.invalidLink }
        try AccountRules.checkPassword(newPassword, email: user.email, name: user.name)
        let hash = try await hasher.hash(newPassword)
        return try await rulesTransaction { tx -> User in
            let rows = try await tx.query(
                """
                SELECT r.email, r.used_at IS NOT NULL, r.expires_at < now(), u.password_hash
                FROM password_resets r JOIN users u ON u.email = r.email
                WHERE r.id = \(id) FOR UPDATE OF r, u
                """,
                logger: logger
            )
            var found: (String, Bool, Bool, String)?
            for try await row in rows.decode((String, Bool, Bool, String).self) { found = row }
            guard let (email, used, expired, oldHash) = found else { throw Self.invalidLink }
            // Again under the row locks: a second use of the link waits here and finds it used.
            try verify(link, id: id, email: email, passwordHash: oldHash, used: used, expired: expired)
            try await tx.query("UPDATE users SET password_hash = \(hash) WHERE id = \(user.id)", logger: logger)
            try await tx.query("DELETE FROM sessions WHERE user_id = \(user.id)", logger: logger)
            try await tx.query("UPDATE password_resets SET used_at = now() WHERE email = \(email) AND used_at IS NULL", logger: logger)
            return user
        }
    }

    /// The account a link would reset, when the link is this server's for the account's current
    /// password; throws when it is used or expired.
    private func check(link: String, id: Int64) async throws -> User? {
        let rows = try await postgres.boundedQuery(
            """
            SELECT u.id, u.email, u.name, u.is_admin, u.created_at, u.password_hash,
                   r.used_at IS NOT NULL, r.expires_at < now()
            FROM password_resets r JOIN users u ON u.email = r.email WHERE r.id = \(id)
            """,
            logger: logger
        )
        for try await (userID, email, name, isAdmin, created, hash, used, expired)
            in rows.decode((Int64, String, String, Bool, Date, String, Bool, Bool).self)
        {
            try verify(link, id: id, email: email, passwordHash: hash, used: used, expired: expired)
            return User(id: userID, email: email, name: name, isAdmin: isAdmin, createdAt: created)
        }
        return nil
    }

    /// A bounded transaction whose body's ``AccountError`` (a used or expired link found under the
    /// row lock) comes out as thrown, not wrapped in postgres-nio's `PostgresTransactionError`.
    private func rulesTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await postgres.withBoundedTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            throw error.thrownByBody
        }
    }

    /// Throws unless `link` is this server's for the reset row and the account's current password,
    /// unused and unexpired. A link that does not match a used row was used (the use changed the
    /// password it was bound to).
    private func verify(_ link: String, id: Int64, email: String, passwordHash: String, used: Bool, expired: Bool) throws {
        let facts = Self.facts(email: email, passwordHash: passwordHash)
        if used { throw Self.usedLink }
        guard SignedLink.isValid(link, purpose: .passwordReset, id: id, facts: facts, secret: secret) else { throw Self.invalidLink }
        if expired { throw Self.expiredLink }
    }

    static let invalidLink = AccountError(
        .linkInvalid,
        field: "token",
        "This reset link is not valid (mistyped, or the password changed since); ask for a new one."
    )
    static let usedLink = AccountError(.linkUsed, field: "token", "This reset link was already used; ask for a new one if you need to.")
    static let expiredLink = AccountError(.linkExpired, field: "token", "This reset link has expired; ask for a new one.")
}
