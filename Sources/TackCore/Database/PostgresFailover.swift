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

/// What a bounded lease has seen so far.
struct LeaseState: Sendable {
    var connection: PostgresConnection?
    var leasedAt: ContinuousClock.Instant?
    var gaveUp = false
    var overran = false
}

/// A small lock-protected value.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    @discardableResult func update<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

extension PostgresClient {
    /// `withConnection` with Tack's bounds: the wait for a lease gives up after
    /// `database.acquire_timeout` (`DatabaseBusy`); a body that runs past `database.statement_timeout`
    /// (plus a second, so the server's own timeout answers first when the server is alive) has its
    /// connection closed and the caller gets `DatabaseCallOverran` at once, even when postgres-nio
    /// never answers the call (a query written to a connection the server has just closed is never
    /// answered); a connection that answers read-only is closed so the pool forgets it
    /// (`DatabaseReadOnly`).
    ///
    /// The body runs in a task of its own so that the caller can give up on it; it must not capture
    /// anything that dies with the caller's frame (hence `@escaping`).
    public func withBoundedConnection<T: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let limits = Database.limits
        let state = LockedBox(LeaseState())
        let clock = ContinuousClock()
        let work = Task<T, any Error> {
            while true {
                do {
                    return try await self.withConnection { connection in
                        // The pool may hand out a connection the server has just closed (a
                        // failover, a shutdown) before it learns of it: take another.
                        guard !connection.isClosed else { throw ClosedLease() }
                        let proceed = state.update { s -> Bool in
                            guard !s.gaveUp else { return false }
                            s.connection = connection
                            s.leasedAt = clock.now
                            return true
                        }
                        guard proceed else { throw DatabaseBusy(waited: limits.acquireTimeout) }
                        do {
                            return try await body(connection)
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
                } catch is ClosedLease {
                    try await Task.sleep(for: .milliseconds(5))
                    continue
                }
            }
        }
        let outcome = LockedBox<CheckedContinuation<T, any Error>?>(nil)
        let timer = LockedBox<Task<Void, Never>?>(nil)
        @Sendable func finish(_ result: Result<T, any Error>) {
            let continuation = outcome.update { c -> CheckedContinuation<T, any Error>? in
                defer { c = nil }
                return c
            }
            continuation?.resume(with: result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                outcome.set(continuation)
                timer.set(
                    Task {
                        do {
                            // The lease deadline.
                            try await Task.sleep(until: clock.now + limits.acquireTimeout, clock: clock)
                            let leasedAt = state.update { s -> ContinuousClock.Instant? in
                                if s.leasedAt == nil { s.gaveUp = true }
                                return s.leasedAt
                            }
                            guard let leasedAt else {
                                work.cancel()
                                finish(.failure(DatabaseBusy(waited: limits.acquireTimeout)))
                                return
                            }
                            // The call deadline, client side.
                            guard limits.statementTimeout > .zero else { return }
                            try await Task.sleep(until: leasedAt + limits.statementTimeout + .seconds(1), clock: clock)
                            let connection = state.update { s -> PostgresConnection? in
                                s.overran = true
                                return s.connection
                            }
                            logger.warning(
                                "a PostgreSQL call overran database.statement_timeout; closing its connection",
                                metadata: ["tack.statement_timeout": "\(limits.statementTimeout)"]
                            )
                            try? await connection?.close()
                            // Closing fails the call at once; if it does not answer even then, give up on it.
                            try await Task.sleep(for: .seconds(1))
                            finish(.failure(DatabaseCallOverran(limit: limits.statementTimeout, duringCommit: true)))
                        } catch {
                            return  // cancelled: the work finished first
                        }
                    }
                )
                Task {
                    let result = await work.result
                    timer.get()?.cancel()
                    if case .failure(let error) = result, state.get().overran {
                        let atCommit = (error as? PostgresTransactionError)?.commitError != nil
                        finish(.failure(DatabaseCallOverran(limit: limits.statementTimeout, duringCommit: atCommit)))
                    } else {
                        finish(result)
                    }
                }
            }
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
