import Logging
import ServiceLifecycle
import TackCore

/// Runs one sweep again and again until graceful shutdown: at once when the last sweep said more
/// work is waiting, else after `interval`. A failure is logged once, and its end once.
///
/// Every worker runs the event relay, the webhook dispatcher and the email sweep this way; they are
/// safe to run concurrently on many workers (each uses `SKIP LOCKED` or idempotent steps).
public struct Sweeper: Service {
    let name: String
    let interval: Duration
    let sweep: @Sendable () async throws -> Bool
    let logger: Logger

    /// Creates a sweeper; `sweep` returns true when more work is waiting.
    public init(_ name: String, every interval: Duration, logger: Logger, sweep: @escaping @Sendable () async throws -> Bool) {
        self.name = name
        self.interval = interval
        self.sweep = sweep
        self.logger = logger
    }

    public func run() async throws {
        var failing = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var more = false
            do {
                more = try await sweep()
                if failing { logger.info("\(name) works again") }
                failing = false
            } catch {
                if !failing { logger.warning("\(name) failed; retrying", metadata: ["tack.error": "\(error)"]) }
                failing = true
            }
            if !more { try? await gracefulShutdownOrSleep(interval) }
        }
    }
}
