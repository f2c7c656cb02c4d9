import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

// PostgreSQL behind an endpoint that follows the primary (Patroni + HAProxy, a VIP, PgBouncer):
// bounded waits, connections to a demoted server dropped, failovers detected (issue 14).

/// No pooled connection within `database.acquire_timeout` (no primary answering, or every
/// connection busy): the caller answers 503 and the client tries again.
public struct DatabaseBusy: Error, Sendable, CustomStringConvertible {
    public let waited: Duration
    public var description: String { "no PostgreSQL connection within database.acquire_timeout (\(waited))" }
}

/// A database call ran past `database.statement_timeout`; Tack closed its connection. When the
/// call was a transaction's COMMIT, whether it was kept is unknown.
public struct DatabaseCallOverran: Error, Sendable, CustomStringConvertible {
    public let limit: Duration
    public let duringCommit: Bool
    public var description: String { "a PostgreSQL call overran database.statement_timeout (\(limit)); its connection was closed" }
}

/// The server answered that it is read-only (SQLSTATE 25006) or in recovery: a demoted primary or a
/// standby behind the endpoint. The connection was closed so the pool opens a fresh one.
public struct DatabaseReadOnly: Error, Sendable, CustomStringConvertible {
    public let duringCommit: Bool
    public var description: String { "PostgreSQL answered read-only (a standby or a demoted primary); the connection was dropped" }
}

extension Database {
    /// The bounds of `withBoundedConnection`/`withBoundedTransaction`, set once per process from the
    /// configuration (`makeClient`).
    public struct Limits: Sendable {
        public var acquireTimeout: Duration
        public var statementTimeout: Duration
        public init(acquireTimeout: Duration, statementTimeout: Duration) {
            self.acquireTimeout = acquireTimeout
            self.statementTimeout = statementTimeout
        }
    }

    private static let limitsBox = LockedBox(Limits(acquireTimeout: .seconds(5), statementTimeout: .seconds(30)))

    /// The process's bounds (defaults until `makeClient` runs).
    public static var limits: Limits {
        get { limitsBox.get() }
        set { limitsBox.set(newValue) }
    }

    /// True when the error says the server refuses writes: 25006 (read_only_sql_transaction), or a
    /// hot standby's 57P03/"recovery" refusals.
    public static func isReadOnly(_ error: any Error) -> Bool {
        if let tx = error as? PostgresTransactionError {
            return [tx.beginError, tx.closureError, tx.commitError].contains { $0.map(isReadOnly) ?? false }
        }
        guard let psql = error as? PSQLError, psql.code == .server else { return false }
        let state = psql.serverInfo?[.sqlState] ?? ""
        return state == "25006" || state == "57P03"
    }

    /// The startup GUCs sent on every new connection (statement_timeout in milliseconds).
    static func startupParameters(_ config: TackConfiguration.Database) -> [(String, String)] {
        let ms = Int(config.statementTimeout / .milliseconds(1))
        guard ms > 0 else { return [] }
        return [("statement_timeout", String(ms))]
    }
}

/// The pool handed out a connection that is already closed.
struct ClosedLease: Error {}

/// A small lock-protected value.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    @discardableResult func update<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

/// A call the deadline watchdog looks after.
protocol WatchedCall: AnyObject, Sendable {
    /// Called by the watchdog at or after the call's deadline; answers whether the watchdog is done
    /// with the call (else it waits for the call's next `deadline`).
    func deadlinePassed(now: ContinuousClock.Instant) -> Bool
    /// The deadline the watchdog waits for.
    var deadline: ContinuousClock.Instant { get }
}

/// One thread per process that enforces the deadlines of every bounded PostgreSQL call: it looks
/// at the calls in flight every `tick`. A timer task per call (armed, then cancelled as nearly every
/// call ends in time) cost the hot read paths a third of their throughput; a thread of its own also
/// keeps the deadlines when the cooperative pool (two threads here) is saturated. A thread cannot
/// await an actor, hence locks: `calls` is only touched under `lock` (so `@unchecked Sendable`).
final class DeadlineWatchdog: @unchecked Sendable {
    static let shared = DeadlineWatchdog(tick: .milliseconds(50))

    private let lock = NSLock()
    private var calls: [ObjectIdentifier: any WatchedCall] = [:]
    private let tick: Duration

    private init(tick: Duration) {
        self.tick = tick
        let thread = Thread { [self] in self.run() }
        thread.name = "tack-pg-deadln"
        thread.start()
    }

    func watch(_ call: any WatchedCall) { lock.withLock { calls[ObjectIdentifier(call)] = call } }
    func forget(_ call: any WatchedCall) { lock.withLock { calls[ObjectIdentifier(call)] = nil } }

    private func run() {
        let clock = ContinuousClock()
        while true {
            Thread.sleep(forTimeInterval: tick.inSeconds)
            let now = clock.now
            let due = lock.withLock { calls.values.filter { $0.deadline <= now } }
            for call in due where call.deadlinePassed(now: now) {
                forget(call)
            }
        }
    }
}

/// One bounded call: its phase and deadline, the connection it leased, and the caller waiting
/// for its outcome (which may be set before or after the work ends). Every `var` is read and
/// written under `lock` (so `@unchecked Sendable`); the watchdog thread calls it synchronously.
final class BoundedCall<T: Sendable>: WatchedCall, @unchecked Sendable {
    enum Phase {
        /// Waiting for a pooled connection until the deadline.
        case leasing
        /// Running on `connection` until the deadline.
        case running
        /// Its connection closed at the deadline, the call had a second to fail.
        case closing
        case done
    }

    /// How long past statement_timeout a call runs before its connection is closed (so that the
    /// server's own timeout answers first when the server is alive), and how long it then has to fail.
    static var grace: Duration { .seconds(1) }

    private let lock = NSLock()
    private let limits: Database.Limits
    private let logger: Logger
    private var phase = Phase.leasing
    private var due: ContinuousClock.Instant
    private var connection: PostgresConnection?
    private var overran = false
    private var waiter: CheckedContinuation<T, any Error>?
    private var outcome: Result<T, any Error>?
    private var work: Task<Void, Never>?

    init(limits: Database.Limits, logger: Logger, now: ContinuousClock.Instant) {
        self.limits = limits
        self.logger = logger
        self.due = now + limits.acquireTimeout
    }

    var deadline: ContinuousClock.Instant { lock.withLock { due } }
    var acquireTimeout: Duration { limits.acquireTimeout }
    /// Whether the watchdog closed the call's connection at its deadline.
    var hasOverrun: Bool { lock.withLock { overran } }

    /// The task running the call; cancelled at once when the call gave up before it was known.
    func started(_ work: Task<Void, Never>) {
        let gaveUp = lock.withLock { () -> Bool in
            self.work = work
            return phase == .done && !overran
        }
        if gaveUp { work.cancel() }
    }

    /// The pool handed out `connection`; false when the call has already given up waiting.
    func leased(_ connection: PostgresConnection, now: ContinuousClock.Instant) -> Bool {
        lock.withLock {
            guard phase == .leasing else { return false }
            self.connection = connection
            phase = .running
            // No client-side call deadline when statement_timeout is 0 (off).
            due = limits.statementTimeout > .zero ? now + limits.statementTimeout + Self.grace : now + Duration.seconds(100 * 365 * 86400)
            return true
        }
    }

    /// What the watchdog does at a deadline.
    private enum Action {
        case giveUpLease(Task<Void, Never>?)
        case close(PostgresConnection?)
        case giveUpCall
        case none(done: Bool)
    }

    func deadlinePassed(now: ContinuousClock.Instant) -> Bool {
        let action = lock.withLock { () -> Action in
            guard due <= now else { return .none(done: phase == .done) }
            switch phase {
            case .leasing:
                phase = .done
                return .giveUpLease(work)
            case .running:
                phase = .closing
                overran = true
                due = now + Self.grace
                return .close(connection)
            case .closing:
                phase = .done
                return .giveUpCall
            case .done:
                return .none(done: true)
            }
        }
        switch action {
        case .giveUpLease(let work):
            // The outcome first: the cancelled work's own error must not win the race.
            finish(.failure(DatabaseBusy(waited: limits.acquireTimeout)))
            work?.cancel()
            return true
        case .close(let connection):
            logger.warning(
                "a PostgreSQL call overran database.statement_timeout; closing its connection",
                metadata: ["tack.statement_timeout": "\(limits.statementTimeout)"]
            )
            // Closing fails the call at once; if it does not answer even then, give up on it.
            let _: EventLoopFuture<Void>? = connection?.close()
            return false
        case .giveUpCall:
            finish(.failure(DatabaseCallOverran(limit: limits.statementTimeout, duringCommit: true)))
            return true
        case .none(let done):
            return done
        }
    }

    /// The work's own end: an error after an overrun reads as the overrun.
    func workEnded(_ result: Result<T, any Error>) {
        let overran = lock.withLock { () -> Bool in
            phase = .done
            return self.overran
        }
        if case .failure(let error) = result, overran {
            let atCommit = (error as? PostgresTransactionError)?.commitError != nil
            finish(.failure(DatabaseCallOverran(limit: limits.statementTimeout, duringCommit: atCommit)))
        } else {
            finish(result)
        }
    }

    /// Hands the caller its outcome, once: the first outcome wins.
    private func finish(_ result: Result<T, any Error>) {
        let waiter = lock.withLock { () -> CheckedContinuation<T, any Error>? in
            guard outcome == nil else { return nil }
            outcome = result
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(with: result)
    }

    /// The caller's wait: resumes at once when the outcome is already known.
    func wait() async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let known = lock.withLock { () -> Result<T, any Error>? in
                if outcome == nil { waiter = continuation }
                return outcome
            }
            if let known { continuation.resume(with: known) }
        }
    }
}

extension PostgresClient {
    /// `withConnection` with Tack's bounds: the wait for a lease gives up after
    /// `database.acquire_timeout` (`DatabaseBusy`); a body that runs past `database.statement_timeout`
    /// (plus a second, so the server's own timeout answers first when the server is alive) has its
    /// connection closed and the caller gets `DatabaseCallOverran` at once, even when postgres-nio
    /// never answers the call (a query written to a connection the server has just closed is never
    /// answered); a connection that answers read-only is closed so the pool forgets it
    /// (`DatabaseReadOnly`). The deadlines are kept by `DeadlineWatchdog`.
    ///
    /// The body runs in a task of its own so that the caller can give up on it; it must not capture
    /// anything that dies with the caller's frame (hence `@escaping`).
    public func withBoundedConnection<T: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withBoundedConnection(limits: Database.limits, logger: logger, body)
    }

    /// `withBoundedConnection` with the bounds given rather than the process's (for tests).
    func withBoundedConnection<T: Sendable>(
        limits: Database.Limits,
        logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let call = BoundedCall<T>(limits: limits, logger: logger, now: clock.now)
        DeadlineWatchdog.shared.watch(call)
        defer { DeadlineWatchdog.shared.forget(call) }
        let work = Task {
            do {
                while true {
                    do {
                        let value = try await self.withConnection { connection in
                            // The pool may hand out a connection the server has just closed (a
                            // failover, a shutdown) before it learns of it: take another.
                            guard !connection.isClosed else { throw ClosedLease() }
                            guard call.leased(connection, now: clock.now) else {
                                throw DatabaseBusy(waited: call.acquireTimeout)
                            }
                            do {
                                return try await body(connection)
                            } catch  where call.hasOverrun {
                                // Hand the pool its connection back only once the close has ended,
                                // so that the next lease does not get it half-closed.
                                try? await connection.close()
                                throw error
                            } catch  where Database.isReadOnly(error) {
                                logger.warning(
                                    "PostgreSQL answered read-only; dropping the connection",
                                    metadata: ["tack.error": "\(Database.reason(error))"]
                                )
                                try? await connection.close()
                                let atCommit = (error as? PostgresTransactionError)?.commitError != nil
                                throw DatabaseReadOnly(duringCommit: atCommit)
                            }
                        }
                        call.workEnded(.success(value))
                        return
                    } catch is ClosedLease {
                        try await Task.sleep(for: .milliseconds(5))
                        continue
                    }
                }
            } catch {
                call.workEnded(.failure(error))
            }
        }
        call.started(work)
        return try await withTaskCancellationHandler {
            try await call.wait()
        } onCancel: {
            work.cancel()
        }
    }

    /// A transaction on a bounded connection (see `withBoundedConnection`); errors keep
    /// postgres-nio's `PostgresTransactionError` shape.
    public func withBoundedTransaction<T: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withBoundedConnection(logger: logger) { connection in
            try await connection.withTransaction(logger: logger) { try await body($0) }
        }
    }
}

extension PostgresTransactionError {
    /// The body's own error (a broken rule) as it was thrown when the transaction was rolled back
    /// cleanly; otherwise this error, which says what else went wrong.
    public var thrownByBody: any Error {
        if let inner = closureError, rollbackError == nil { return inner }
        return self
    }
}

/// Where a PostgreSQL server is in its history: the cluster's system identifier (a new one means
/// another cluster, e.g. restored or re-initialised), its timeline (bumped by every promotion), and
/// whether it is a standby.
public struct PostgresIdentity: Sendable, Equatable, CustomStringConvertible {
    public var systemIdentifier: String
    public var timeline: String
    public var inRecovery: Bool

    public var description: String {
        "system_identifier=\(systemIdentifier) timeline=\(timeline)\(inRecovery ? " (in recovery)" : "")"
    }

    /// Reads it. On a standby `pg_current_wal_lsn()` fails, so the timeline comes from the last
    /// checkpoint there (it may lag until the next checkpoint); on a primary from the current WAL file,
    /// which changes at once on promotion.
    public static func read(on connection: PostgresConnection, logger: Logger) async throws -> PostgresIdentity {
        let rows = try await connection.query(
            """
            SELECT (SELECT system_identifier FROM pg_control_system())::text,
                   pg_is_in_recovery(),
                   CASE WHEN pg_is_in_recovery()
                        THEN lpad(upper(to_hex((SELECT timeline_id FROM pg_control_checkpoint()))), 8, '0')
                        ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END
            """,
            logger: logger
        )
        for try await (system, recovery, timeline) in rows.decode((String, Bool, String).self) {
            return PostgresIdentity(systemIdentifier: system, timeline: timeline, inRecovery: recovery)
        }
        throw PostgresIdentityUnavailable()
    }
}

/// The identity query returned no row.
struct PostgresIdentityUnavailable: Error {}

/// Watches `(system_identifier, timeline)` of the server behind `database.url` every `interval` and
/// logs "PostgreSQL failover detected" with the old and new values when they change. Every role runs
/// one.
public final class PostgresFailoverWatch: Service, Sendable {
    let postgres: PostgresClient
    let interval: Duration
    let logger: Logger
    private let last = LockedBox<PostgresIdentity?>(nil)

    public init(postgres: PostgresClient, interval: Duration, logger: Logger) {
        self.postgres = postgres
        self.interval = interval
        self.logger = logger
    }

    /// The identity seen last (nil until a check succeeded).
    public var current: PostgresIdentity? { last.get() }

    public func run() async throws {
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await check()
                failing = false
            } catch is CancellationError {
                return
            } catch {
                if !failing {
                    logger.info("PostgreSQL identity check failed; will retry", metadata: ["tack.error": "\(Database.reason(error))"])
                }
                failing = true
            }
            try? await gracefulShutdownOrSleep(interval)
        }
    }

    /// One check: reads the identity and logs a change.
    public func check() async throws {
        let logger = self.logger
        let seen = try await postgres.withBoundedConnection(logger: logger) { try await PostgresIdentity.read(on: $0, logger: logger) }
        let previous = last.update { value -> PostgresIdentity? in
            let old = value
            value = seen
            return old
        }
        guard let previous else {
            logger.info(
                "PostgreSQL identity",
                metadata: [
                    "tack.pg.system_identifier": "\(seen.systemIdentifier)", "tack.pg.timeline": "\(seen.timeline)",
                    "tack.pg.in_recovery": "\(seen.inRecovery)",
                ]
            )
            return
        }
        if previous.systemIdentifier != seen.systemIdentifier || previous.timeline != seen.timeline {
            logger.warning(
                "PostgreSQL failover detected",
                metadata: [
                    "tack.pg.old_system_identifier": "\(previous.systemIdentifier)", "tack.pg.old_timeline": "\(previous.timeline)",
                    "tack.pg.system_identifier": "\(seen.systemIdentifier)", "tack.pg.timeline": "\(seen.timeline)",
                    "tack.pg.in_recovery": "\(seen.inRecovery)",
                ]
            )
        } else if previous.inRecovery != seen.inRecovery {
            logger.warning("PostgreSQL recovery state changed", metadata: ["tack.pg.in_recovery": "\(seen.inRecovery)"])
        }
    }
}

/// Rows read whole on a bounded connection (`boundedQuery`); decode them as postgres-nio's
/// row sequence (`rows.decode(...)`, `for try await row in rows`).
public struct BoundedRows: AsyncSequence, Sendable {
    public typealias Element = PostgresRow
    public let rows: [PostgresRow]

    /// The rows (postgres-nio's `collect()`).
    public func collect() async throws -> [PostgresRow] { rows }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: IndexingIterator<[PostgresRow]>
        public mutating func next() async throws -> PostgresRow? { inner.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: rows.makeIterator()) }
}

extension PostgresClient {
    /// `query` on a bounded connection (`withBoundedConnection`), its rows read before the
    /// connection goes back to the pool.
    @discardableResult
    public func boundedQuery(_ query: PostgresQuery, logger: Logger) async throws -> BoundedRows {
        try await withBoundedConnection(logger: logger) { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return BoundedRows(rows: rows)
        }
    }
}

extension PostgresClient {
    /// A prepared statement on a bounded connection (`withBoundedConnection`), its rows read whole.
    public func boundedExecute<Statement: PostgresPreparedStatement>(
        _ statement: Statement,
        logger: Logger
    ) async throws -> [Statement.Row] where Statement.Row: Sendable {
        try await withBoundedConnection(logger: logger) { connection in
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
    }
}
