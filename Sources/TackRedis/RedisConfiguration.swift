/// How to reach Redis and how the client's pool behaves. Built once by the application (from its
/// own configuration) and handed to ``RedisClient``; the client never reads the environment.
public struct RedisConfiguration: Sendable {
    /// Host name or IP address of the Redis server.
    public var host: String
    /// TCP port of the Redis server.
    public var port: Int
    /// Sent with `AUTH` on every (re)connect when set (`requirepass`). Never logged.
    public var password: String?
    /// Selected with `SELECT` on every (re)connect when not 0, so a reconnect cannot silently
    /// switch a caller to database 0.
    public var database: Int
    /// Number of pipelining connections in the pool, each with its own thread. A few are enough:
    /// every connection sends whatever is queued as one pipeline.
    public var poolSize: Int
    /// How long to wait for the TCP connection (and AUTH/SELECT) before failing with
    /// ``RedisError/Code/connectionFailed``.
    public var connectTimeout: Duration
    /// How long a pooled command may go without any reply bytes before the connection is torn
    /// down and its waiters fail with ``RedisError/Code/timeout``. Blocking connections do not use
    /// it: a `BLOCK` wait is expected to be silent for its whole length.
    public var commandTimeout: Duration
    /// When set, the master is found through Redis Sentinel on every connect and `host`/`port`
    /// are not used (only `password` and `database` are).
    public var sentinel: RedisSentinelConfiguration?

    /// Creates a configuration; the defaults match a local Redis with no password.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        password: String? = nil,
        database: Int = 0,
        poolSize: Int = 4,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.sentinel = nil
    }

    /// Parses `redis://[[default]:password@]host[:port][/db]`, the form operators copy from
    /// their Redis provider. The password may be percent-encoded. Other settings keep their
    /// defaults.
    ///
    /// - Throws: ``RedisError`` with code ``RedisError/Code/invalidURL`` for another scheme
    ///   (`rediss://` is not supported: hiredis 0.14 has no TLS), a username other than `default`,
    ///   a bad port or database number, or anything after the database.
    public init(url: String) throws {
        func invalid(_ why: String) -> RedisError {
            // The URL may carry a password: never echo it back.
            RedisError(.invalidURL, "invalid Redis URL (\(why)); expected redis://[:password@]host[:port][/db]")
        }
        self.init()
        let prefix = "redis://"
        guard url.lowercased().hasPrefix(prefix) else { throw invalid("scheme must be redis://") }
        var rest = Substring(url.dropFirst(prefix.count))

        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let user: Substring
            let secret: Substring
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                secret = userInfo[userInfo.index(after: colon)...]
            } else {
                // "redis://secret@host" is how some tools write a password-only URL.
                user = ""
                secret = userInfo
            }
            guard user.isEmpty || user == "default" else { throw invalid("usernames other than 'default' are not supported") }
            guard let decoded = Self.percentDecode(secret) else { throw invalid("bad percent-encoding in password") }
            password = decoded.isEmpty ? nil : decoded
        }

        var hostPort = rest
        var databasePart: Substring?
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            databasePart = rest[rest.index(after: slash)...]
        }

        var portPart: Substring?
        if hostPort.hasPrefix("[") {
            // IPv6 literal: [::1]:6379
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after IPv6 address") }
                portPart = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portPart = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw invalid("missing host") }
        guard !host.contains(where: { $0 == "?" || $0 == "#" || $0 == " " }) else { throw invalid("bad host") }

        if let portPart {
            guard let value = Int(portPart), (1...65535).contains(value) else { throw invalid("port must be 1-65535") }
            port = value
        }
        if let databasePart, !databasePart.isEmpty {
            guard let value = Int(databasePart), value >= 0 else { throw invalid("database must be a non-negative integer") }
            database = value
        }
    }

    /// Decodes `%XX` escapes; `nil` when an escape is malformed or the result is not UTF-8.
    private static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// `host:port`, as used in log metadata and error messages.
    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How to find the Redis master through Redis Sentinel.
///
/// Every connect (pooled, blocking, subscriber) asks the sentinels in order for the master's
/// address (`SENTINEL get-master-addr-by-name`), connects, and checks `ROLE`; a server that is not
/// (or no longer) the master is never used.
public struct RedisSentinelConfiguration: Sendable {
    /// One sentinel's address.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// Host name or IP address.
        public var host: String
        /// TCP port (usually 26379).
        public var port: Int

        /// Creates an endpoint.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port` (or `[v6]:port`); `nil` when malformed.
        public init?(parsing text: String) {
            let trimmed = String(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            guard let colon = trimmed.lastIndex(of: ":") else { return nil }
            var host = String(trimmed[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }),
                let port = Int(trimmed[trimmed.index(after: colon)...]), (1...65535).contains(port)
            else { return nil }
            self.host = host
            self.port = port
        }

        /// `host:port`.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The sentinels, tried in order (the one that last answered moves to the head).
    public var sentinels: [Endpoint]
    /// The name in `sentinel monitor <name> …`.
    public var masterName: String
    /// Sent with `AUTH` to the sentinels when they have `requirepass`. Never logged.
    public var password: String?
    /// How long a connect keeps re-resolving (every ~250 ms) before failing its callers.
    public var failoverTimeout: Duration
    /// How long to wait for one sentinel before trying the next.
    public var sentinelTimeout: Duration

    /// Creates a sentinel configuration.
    public init(
        sentinels: [Endpoint],
        masterName: String,
        password: String? = nil,
        failoverTimeout: Duration = .seconds(15),
        sentinelTimeout: Duration = .milliseconds(500)
    ) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.password = password
        self.failoverTimeout = failoverTimeout
        self.sentinelTimeout = sentinelTimeout
    }
}
