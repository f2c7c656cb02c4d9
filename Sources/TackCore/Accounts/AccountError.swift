/// A request about an account that cannot be carried out: bad input, a taken email, a wrong password.
///
/// The message is written for the person who sent the input (an API caller or an operator at the
/// command line); it never holds the password or a token.
public struct AccountError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name, as it appears in JSON error bodies.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The stable name.
        public var description: String { rawValue }

        /// A field is missing, malformed, too short or too long (`field` names it).
        public static let invalidField = Code("invalid_field")
        /// Another account already has this email.
        public static let emailTaken = Code("email_taken")
        /// The current password given to confirm a change is wrong.
        public static let wrongPassword = Code("wrong_password")
        /// The account does not exist (any more).
        public static let userNotFound = Code("user_not_found")
        /// A link (invitation, password reset) that was never made by this server, or was made for
        /// something that has changed since (the password it would reset).
        public static let linkInvalid = Code("link_invalid")
        /// A link past its expiry.
        public static let linkExpired = Code("link_expired")
        /// A single-use link already used, or an invitation withdrawn.
        public static let linkUsed = Code("link_used")
        /// Too many requests of one kind for one address (password reset emails).
        public static let tooManyRequests = Code("too_many_requests")
    }

    /// The kind of failure.
    public var code: Code
    /// The input field at fault (`email`, `name`, `password`, …), when there is one.
    public var field: String?
    /// A sentence for the person who sent the input.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    /// A field-level validation error.
    public static func invalid(_ field: String, _ message: String) -> AccountError {
        AccountError(.invalidField, field: field, message)
    }

    /// The message.
    public var description: String { message }
}
