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
    /// A list the leader pushes one token to when it releases the lease on shutdown; standbys wait
    /// on it with `BLPOP` between attempts, so one of them takes over at once instead of at its next retry.
    public static let schedulerHandover = "tack:{scheduler}:handover"
    /// The claim of one cron tick (job + scheduled time, milliseconds since 1970), set by the tick
    /// script so a tick is enqueued once whoever leads; holds the enqueuing leader's owner token.
    public static func schedulerTick(job: String, scheduledFor: Int64) -> String { "tack:{scheduler}:tick:\(job):\(scheduledFor)" }
    /// Hash of per-job scheduler state: `<job>:last_tick` (newest tick fired or claimed, ms since
    /// 1970), `<job>:enqueued_at`, `<job>:enqueued_tick`, `<job>:enqueued_by`. A new leader continues
    /// from `last_tick`; `status` shows the rest.
    public static let schedulerJobs = "tack:{scheduler}:jobs"
    /// A board's capped event history stream; entry ids are `version-0`.
    public static func boardHistory(_ boardID: Int64) -> String { "tack:{board:\(boardID)}:history" }
    /// Who has a board open: a sorted set of `<push process>|<user id>|<name>` scored by expiry
    /// (milliseconds since 1970), refreshed by each push process for its own connections.
    public static func boardPresence(_ boardID: Int64) -> String { "tack:{board:\(boardID)}:presence" }
    /// The pub/sub channel a board's events are published on (channels are not keys).
    public static func boardChannel(_ boardID: Int64) -> String { "tack:board:\(boardID)" }
    /// The job stream of a queue.
    public static func queue(_ name: String) -> String { "tack:q:{\(name)}" }
    /// A queue's failed jobs waiting for their retry, scored by due time (milliseconds since 1970).
    public static func queueRetries(_ name: String) -> String { "tack:q:{\(name)}:retry" }
    /// A queue's dead-letter stream: jobs that ran out of attempts, with their last error.
    public static func queueDead(_ name: String) -> String { "tack:q:{\(name)}:dead" }
    /// The consumer group every worker reads a queue stream with.
    public static let workerGroup = "workers"
    /// Failed logins to one account in the current window (a counter that expires with the window).
    /// `account` is a digest of the normalised email, so no address sits in Redis in clear.
    public static func loginFailuresOfAccount(_ account: String) -> String { "tack:{login}:acct:\(account)" }
    /// Failed logins from one client address in the current window.
    public static func loginFailuresOfAddress(_ address: String) -> String { "tack:{login}:addr:\(address)" }
}
