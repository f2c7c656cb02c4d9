import Foundation
import Logging
import PostgresNIO

/// The work of `./platform create_user`, apart from reading the password: checks the input, then
/// creates the account. Every failure is a one-line `TackError` naming the option at fault.
public enum CreateUser {
    /// Checks email, name and password without touching the database (so bad input fails fast,
    /// before the command connects anywhere).
    public static func validate(email: String, name: String, password: String) throws {
        do {
            let email = try AccountRules.normalizedEmail(email)
            let name = try AccountRules.validatedName(name)
            try AccountRules.checkPassword(password, email: email, name: name)
        } catch let error as AccountError {
            throw commandError(error, email: email)
        }
    }

    /// Creates the account; the schema must be current.
    public static func run(
        email: String,
        name: String,
        password: String,
        admin: Bool,
        postgres: PostgresClient,
        hasher: PasswordHasher,
        logger: Logger
    ) async throws -> User {
        try validate(email: email, name: name, password: password)
        do {
            return try await UserRepository(postgres: postgres, hasher: hasher, logger: logger)
                .create(email: email, name: name, password: password, isAdmin: admin)
        } catch let error as AccountError {
            throw commandError(error, email: email)
        }
    }

    /// The one-line command error for an account error; the password is never part of it.
    static func commandError(_ error: AccountError, email: String) -> TackError {
        switch (error.code, error.field) {
        case (.emailTaken, _):
            return TackError(
                TackError.Code("email_taken"),
                subject: "--email \(email)",
                "an account with this email already exists; pick another email"
            )
        case (_, "password"?):
            // Never echo the password itself.
            return TackError(
                .usage,
                subject: "password",
                lowerFirst(error.message.replacingOccurrences(of: "password ", with: "", options: .anchored))
            )
        case (_, let field?):
            return TackError(
                .usage,
                subject: "--\(field)",
                lowerFirst(error.message.replacingOccurrences(of: "\(field) ", with: "", options: .anchored))
            )
        default:
            return TackError(.usage, lowerFirst(error.message))
        }
    }

    private static func lowerFirst(_ text: String) -> String {
        var text = text
        if text.hasSuffix(".") { text.removeLast() }
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
