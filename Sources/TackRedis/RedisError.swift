/// An error from the Redis client: a small code an operator or caller can switch on, plus a
/// message that says what happened and where (never a password).
///
/// Error *replies* from Redis (`WRONGTYPE`, `BUSYGROUP`, `NOSCRIPT`…) are not thrown by
/// `RedisClient.send`: they come back as
/// ``RESPValue/error(_:)`` because they are answers, not failures of the connection. Only the
/// checked helpers turn them into ``Code/replyError``.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; compare with the static members (`error.code == .timeout`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Redis could not be reached (refused, unresolvable, AUTH/SELECT rejected), or the
        /// connection is waiting out its reconnect backoff. Nothing was sent.
        public static let connectionFailed = Code("connectionFailed")
        /// Redis Sentinel mode: none of the configured sentinels answered. Nothing was sent.
        public static let sentinelsUnreachable = Code("sentinelsUnreachable")
        /// Redis Sentinel mode: the sentinels that answered do not know the configured master
        /// name (`redis.master_name` differs from their `sentinel monitor` name). Nothing was sent.
        public static let unknownMasterName = Code("unknownMasterName")
        /// Redis Sentinel mode: the sentinels named a master, but no server answered `ROLE`
        /// with `master` within the failover timeout. Nothing was sent.
        public static let noMaster = Code("noMaster")
        /// Redis did not answer within the command timeout (or the blocking call's timeout).
        /// The connection was torn down because a late reply would desynchronise it.
        public static let timeout = Code("timeout")
        /// The connection broke while the command was written or its reply awaited: the
        /// command may or may not have run.
        public static let connectionClosed = Code("connectionClosed")
        /// Redis answered with an error reply and the caller asked for it to be thrown.
        public static let replyError = Code("replyError")
        /// The bytes from Redis could not be parsed as RESP.
        public static let protocolError = Code("protocolError")
        /// A `redis://` URL could not be parsed.
        public static let invalidURL = Code("invalidURL")
        /// The client was shut down; it accepts no more commands.
        public static let poolShutdown = Code("poolShutdown")

        /// The code's name, e.g. `timeout`.
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// Human-readable detail, e.g. "connection to 127.0.0.1:6390 failed: Connection refused".
    public var message: String

    /// Creates an error; public so callers (and tests) can build the errors they compare against.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `"<code>: <message>"`, suitable for logs.
    public var description: String { "RedisError.\(code): \(message)" }
}
