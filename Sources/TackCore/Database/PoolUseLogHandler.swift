import Logging
import Metrics
import Synchronization

/// Counts the PostgreSQL pool's open and leased connections for `/metrics`.
///
/// postgres-nio reports its pool only through debug records of the client's background logger
/// ("Creating new connection", "Connection creation failed/closed/leased/released"), so this handler sits in front of the
/// process's handler on that logger: it reads those records at every level, updates two gauges,
/// and passes on only what the process's own level lets through.
struct PoolUseLogHandler: LogHandler {
    /// Counts shared by every copy of the handler (a Logger copies its handler).
    final class Counts: Sendable {
        let state = Mutex((open: 0, leased: 0))
        let open = Gauge(label: "tack_postgres_connections_open")
        let leased = Gauge(label: "tack_postgres_connections_in_use")

        func apply(_ message: String) {
            let counts: (open: Int, leased: Int)? = state.withLock { s in
                switch message {
                // A connection counts as open from its first attempt until it fails or closes.
                case "Creating new connection": s.open += 1
                case "Connection creation failed", "Connection closed": s.open = max(0, s.open - 1)
                case "Connection leased": s.leased += 1
                case "Connection released": s.leased = max(0, s.leased - 1)
                default: return nil
                }
                return s
            }
            guard let counts else { return }
            open.record(counts.open)
            leased.record(counts.leased)
        }
    }

    var upstream: any LogHandler
    let counts: Counts

    init(upstream: any LogHandler, counts: Counts = Counts()) {
        self.upstream = upstream
        self.counts = counts
    }

    /// Debug, so the pool's records arrive; setting it sets the level passed on.
    var logLevel: Logger.Level {
        get { .debug }
        set { upstream.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level == .debug { counts.apply(event.message.description) }
        if event.level >= upstream.logLevel { upstream.log(event: event) }
    }
}
