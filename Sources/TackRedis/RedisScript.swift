import Crypto

/// A Lua script identified by the SHA1 of its source, as Redis' script cache knows it.
///
/// ``RedisClient/run(_:keys:args:)`` sends `EVALSHA` (only the 40-character digest crosses the
/// wire) and falls back to `EVAL` when Redis answers `NOSCRIPT` — after a restart or
/// `SCRIPT FLUSH` — which also puts the script back into the cache for the next call.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// Lower-case hex SHA1 of ``source``, the name Redis gives the script.
    public let sha1: String

    /// Wraps a script source and computes its digest once.
    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8))
            .map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }
            .joined()
    }
}
