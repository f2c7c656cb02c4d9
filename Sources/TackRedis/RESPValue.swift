/// One reply in the Redis serialization protocol (RESP2), copied out of hiredis' reply tree so it
/// outlives the C objects (which are freed right after the copy).
public enum RESPValue: Sendable, Equatable {
    /// A nil bulk string or nil array (`$-1`, `*-1`): a missing key, a BLOCK that timed out.
    case null
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An integer reply.
    case integer(Int)
    /// A bulk string, kept as bytes because Redis values are binary-safe.
    case bulkString([UInt8])
    /// A multi-bulk reply.
    case array([RESPValue])
    /// An error reply (`WRONGTYPE …`, `BUSYGROUP …`, `NOSCRIPT …`). It is an answer, not an I/O
    /// failure: the connection stays usable.
    case error(String)

    /// The text of a status or bulk string; bulk strings are decoded as UTF-8 (invalid sequences
    /// become U+FFFD, so use ``bytes`` for binary data). `nil` for other cases.
    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    /// The raw bytes of a bulk string, or the UTF-8 of a status reply; `nil` otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let b): return b
        case .simpleString(let s): return Array(s.utf8)
        default: return nil
        }
    }

    /// An integer reply, or a bulk/status string that parses as a decimal `Int`
    /// (Redis returns counters stored with SET/INCR as bulk strings on GET).
    public var int: Int? {
        switch self {
        case .integer(let i): return i
        case .bulkString(let b): return Int(String(decoding: b, as: UTF8.self))
        case .simpleString(let s): return Int(s)
        default: return nil
        }
    }

    /// The elements of an array reply; `nil` otherwise (including a nil array, which is ``null``).
    public var array: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// `true` for ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The message of an error reply; `nil` otherwise. Handy for matching prefixes like `BUSYGROUP`.
    public var errorMessage: String? {
        if case .error(let e) = self { return e }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    /// A compact, redis-cli-like rendering for logs and test failures.
    public var description: String {
        switch self {
        case .null: return "(nil)"
        case .simpleString(let s): return s
        case .integer(let i): return "(integer) \(i)"
        case .bulkString(let b): return "\"\(String(decoding: b, as: UTF8.self))\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .error(let e): return "(error) \(e)"
        }
    }
}
