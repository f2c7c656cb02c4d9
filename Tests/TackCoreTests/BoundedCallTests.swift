import Foundation
import PostgresNIO
import TackTestSupport
import Testing

@testable import TackCore

/// The bounds every request's PostgreSQL calls rely on (issue 14), against the real server: a
/// call gives up waiting for a connection after acquire_timeout, a call that runs past
/// statement_timeout (+1 s) has its connection closed and fails at once, and neither leaves the
/// pool unusable. Many short calls at once each get their own answer.
@Suite("Bounded PostgreSQL calls")
struct BoundedCallTests {
    let logger = Logger(label: "tack.test")

    func seconds(since start: ContinuousClock.Instant) -> Double { (ContinuousClock.now - start).inSeconds }

    func one(_ client: PostgresClient, _ limits: Database.Limits, _ sql: String = "SELECT 1") async throws -> Int {
        try await client.withBoundedConnection(limits: limits, logger: logger) { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "tack.test"))
            var seen = 0
            for try await _ in rows { seen += 1 }
            return seen
        }
    }

    @Test("with every connection busy, a call gives up after acquire_timeout with DatabaseBusy, and the pool still serves")
    func leaseDeadline() async throws {
        // The server's own statement_timeout stays far off, so only the client bounds act here.
        try await TestServers.withDatabase(settings: ["database.pool_size": "1", "database.statement_timeout": "60"], migrated: false) {
            _,
            client in
            let limits = Database.Limits(acquireTimeout: .milliseconds(300), statementTimeout: .seconds(30))
            _ = try await one(client, limits)  // the one connection is open
            async let holder = one(client, limits, "SELECT pg_sleep(1.5)")
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            await #expect(throws: DatabaseBusy.self) { _ = try await one(client, limits) }
            let waited = seconds(since: start)
            #expect(waited >= 0.25 && waited < 0.9, "gave up after \(waited) s, acquire_timeout is 0.3 s")
            let held = try await holder
            let after = try await one(client, limits)
            #expect(held == 1 && after == 1)
        }
    }

    @Test("a call running past statement_timeout + 1 s has its connection closed and fails with DatabaseCallOverran at once")
    func callDeadline() async throws {
        try await TestServers.withDatabase(settings: ["database.pool_size": "1", "database.statement_timeout": "60"], migrated: false) {
            _,
            client in
            let limits = Database.Limits(acquireTimeout: .seconds(2), statementTimeout: .milliseconds(500))
            let start = ContinuousClock.now
            await #expect(throws: DatabaseCallOverran.self) { _ = try await one(client, limits, "SELECT pg_sleep(20)") }
            let took = seconds(since: start)
            #expect(took >= 1.4 && took < 2.6, "failed after \(took) s; the deadline is 1.5 s after the lease")
            // The pool opens a fresh connection for the next call.
            let after = try await one(client, limits)
            #expect(after == 1)
        }
    }

    @Test("a thousand calls at once on four connections each get their own answer")
    func manyAtOnce() async throws {
        try await TestServers.withDatabase(settings: ["database.pool_size": "4"], migrated: false) { _, client in
            let limits = Database.Limits(acquireTimeout: .seconds(20), statementTimeout: .seconds(30))
            let answers = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<1000 {
                    group.addTask {
                        try await client.withBoundedConnection(limits: limits, logger: logger) { connection in
                            let rows = try await connection.query("SELECT \(n)::BIGINT", logger: Logger(label: "tack.test"))
                            for try await value in rows.decode(Int.self) { return value }
                            return -1
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(answers.sorted() == Array(0..<1000))
        }
    }
}
