/// An error an operator can act on: a stable code, the thing it is about, and what to do.
///
/// Commands print `description` as one line and exit with `exitCode`; the HTTP edge maps `code`
/// to a status. Shaped like postgres-nio's `PSQLError`: a small struct wrapping a code.
public struct TackError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code as it appears in logs and JSON error bodies.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The stable name.
        public var description: String { rawValue }

        /// The configuration file or an override is wrong.
        public static let invalidConfig = Code("invalid_config")
        /// A file the command needs cannot be read or written.
        public static let fileError = Code("file_error")
        /// PostgreSQL cannot be reached or refused the login.
        public static let databaseUnavailable = Code("database_unavailable")
        /// Redis cannot be reached or refused the login.
        public static let redisUnavailable = Code("redis_unavailable")
        /// The schema in the database does not match this release.
        public static let schemaMismatch = Code("schema_mismatch")
        /// A migration failed to apply.
        public static let migrationFailed = Code("migration_failed")
        /// A command-line argument is wrong.
        public static let usage = Code("usage")
        /// Something the operator must look at (used by `status`).
        public static let needsAttention = Code("needs_attention")
    }

    /// The kind of failure.
    public var code: Code
    /// The key, file, host or argument the error is about, when there is one.
    public var subject: String?
    /// What is wrong and what to do, in one sentence.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, subject: String? = nil, _ message: String) {
        self.code = code
        self.subject = subject
        self.message = message
    }

    /// One line: `subject: message`.
    public var description: String {
        if let subject { return "\(subject): \(message)" }
        return message
    }

    /// The process exit code for this error: 2 for anything the operator must fix (bad input,
    /// unreachable servers), 1 for `needsAttention`.
    public var exitCode: Int32 {
        code == .needsAttention ? 1 : 2
    }
}
