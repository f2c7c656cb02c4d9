/// Every Redis key, channel and queue name Tack uses, in one place for producers and consumers.
///
/// All keys start with `tack:`; keys one script touches together share a `{…}` hash tag so a Redis
/// Cluster could serve them later.
public enum RedisKeys {
    /// Sorted set of process ids scored by last heartbeat (milliseconds since 1970).
    public static let processIndex = "tack:{cluster}:procs"
    /// Hash describing one process; expires when its heartbeats stop.
    public static func process(_ id: String) -> String { "tack:{cluster}:proc:\(id)" }
    /// The scheduler lease: holds the leader's owner token.
    public static let schedulerLeader = "tack:{scheduler}:leader"
    /// The job stream of a queue.
    public static func queue(_ name: String) -> String { "tack:q:{\(name)}" }
}
