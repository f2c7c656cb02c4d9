import Foundation
import Logging
import PostgresNIO
import TackCore
import TackRedis
import TackTestSupport
import Testing

@testable import TackWorker

/// The scheduler's periodic job bodies as a worker runs them, against real PostgreSQL.
@Suite("Periodic jobs", .serialized)
struct CronJobsTests {
    let logger = Logger(label: "tack.test.cron")

    func handler(_ config: TackConfiguration, _ postgres: PostgresClient, _ redis: RedisClient) -> CronJobs {
        CronJobs(config: config, postgres: postgres, logger: logger)
    }

    /// Runs one tick of `name` scheduled at `at` through the handler, as a delivered job.
    func run(_ jobs: CronJobs, _ name: String, at: Date = Date()) async throws {
        let definition = try #require(ScheduledJob.named(name))
        let tick = CronTick(job: name, scheduledFor: Int64(at.timeIntervalSince1970 * 1000), leader: "test")
        let job = Job(
            id: tick.jobID,
            kind: definition.kind,
            payload: Array(try JobCoding.encoder.encode(tick)),
            attempt: 1,
            enqueuedAt: tick.scheduledFor,
            lastError: nil
        )
        try await jobs.perform(job)
    }

    func count(_ postgres: PostgresClient, _ query: PostgresQuery) async throws -> Int64 {
        for try await n in try await postgres.query(query).decode(Int64.self) { return n }
        return -1
    }

    /// A user, a board at version 3 with a column, and events 1..3 (published, a month old).
    func seed(_ postgres: PostgresClient) async throws -> (user: Int64, board: Int64, column: Int64) {
        var user: Int64 = 0
        var board: Int64 = 0
        var column: Int64 = 0
        for try await id in try await postgres.query("INSERT INTO users (email, name, password_hash) VALUES ('c@example.com', 'C', 'x') RETURNING id")
            .decode(Int64.self)
        { user = id }
        for try await id in try await postgres.query("INSERT INTO boards (name, created_by, version) VALUES ('B', \(user), 3) RETURNING id").decode(
            Int64.self
        ) { board = id }
        for try await id in try await postgres.query("INSERT INTO columns (board_id, name, position) VALUES (\(board), 'Todo', 'a') RETURNING id")
            .decode(Int64.self)
        { column = id }
        for version in 1...3 {
            try await postgres.query(
                """
                INSERT INTO events (board_id, version, kind, actor_id, payload, created_at, published_at)
                VALUES (\(board), \(Int64(version)), 'card.created', \(user), '{}', now() - interval '40 days', now() - interval '40 days')
                """
            )
        }
        return (user, board, column)
    }

    @Test("prune deletes old finished deliveries, old published events except each board's latest, and old cron runs")
    func prune() async throws {
        let settings = ["retention.events": "30", "retention.webhook_deliveries": "30", "retention.cron_runs": "30"]
        try await TestServers.withServers(settings: settings, logger: logger) { config, postgres, redis in
            let (user, board, _) = try await seed(postgres)
            try await postgres.query(
                """
                INSERT INTO webhooks (board_id, url, secret, created_by, dispatched_version) VALUES (\(board), 'https://x.example.com/', 's', \(user), 3)
                """
            )
            try await postgres.query(
                """
                INSERT INTO webhook_deliveries (id, webhook_id, board_id, event_version, event_kind, status, created_at)
                SELECT 'old-' || v, (SELECT id FROM webhooks), \(board), v, 'card.created', s, now() - interval '40 days'
                FROM (VALUES (1, 'succeeded'), (2, 'failed'), (3, 'pending')) AS t(v, s)
                """
            )
            try await postgres.query(
                "INSERT INTO cron_runs (job, scheduled_for, started_at) VALUES ('probe', now() - interval '40 days', now() - interval '40 days')"
            )
            try await run(handler(config, postgres, redis), "prune")
            // Events 1 and 2 go; 3 is the board's latest and stays.
            #expect(try await count(postgres, "SELECT count(*) FROM events WHERE board_id = \(board)") == 1)
            #expect(try await count(postgres, "SELECT max(version) FROM events WHERE board_id = \(board)") == 3)
            // A pending delivery is never pruned.
            #expect(try await count(postgres, "SELECT count(*) FROM webhook_deliveries") == 1)
            #expect(try await count(postgres, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") == 1)
            // The old probe run went; this prune's own run stays.
            #expect(try await count(postgres, "SELECT count(*) FROM cron_runs WHERE job = 'probe'") == 0)
            #expect(try await count(postgres, "SELECT count(*) FROM cron_runs WHERE job = 'prune' AND finished_at IS NOT NULL") == 1)
        }
    }

    @Test("prune keeps events a webhook has not been handed yet, and keeps everything with retention 0")
    func pruneKeepsUndispatched() async throws {
        try await TestServers.withServers(settings: ["retention.events": "30"], logger: logger) { config, postgres, redis in
            let (user, board, _) = try await seed(postgres)
            try await postgres.query(
                "INSERT INTO webhooks (board_id, url, secret, created_by, dispatched_version) VALUES (\(board), 'https://x.example.com/', 's', \(user), 1)"
            )
            try await run(handler(config, postgres, redis), "prune")
            // Event 1 was handed to the webhook; 2 was not (and 3 is the latest).
            #expect(try await count(postgres, "SELECT count(*) FROM events WHERE board_id = \(board)") == 2)
        }
        try await TestServers.withServers(settings: ["retention.events": "0"], logger: logger) { config, postgres, redis in
            let (_, board, _) = try await seed(postgres)
            try await run(handler(config, postgres, redis), "prune")
            #expect(try await count(postgres, "SELECT count(*) FROM events WHERE board_id = \(board)") == 3)
        }
    }

    @Test("purge_sessions deletes expired sessions and long-revoked tokens only")
    func purgeSessions() async throws {
        try await TestServers.withServers(logger: logger) { config, postgres, redis in
            let (user, _, _) = try await seed(postgres)
            try await postgres.query(
                """
                INSERT INTO sessions (user_id, token_hash, expires_at) VALUES
                    (\(user), '\\x01', now() - interval '1 minute'), (\(user), '\\x02', now() + interval '1 day')
                """
            )
            try await postgres.query(
                """
                INSERT INTO api_tokens (user_id, name, token_hash, scope, revoked_at) VALUES
                    (\(user), 'old', '\\x03', 'read', now() - interval '31 days'),
                    (\(user), 'recent', '\\x04', 'read', now() - interval '1 day'),
                    (\(user), 'live', '\\x05', 'read', NULL)
                """
            )
            try await run(handler(config, postgres, redis), "purge_sessions")
            #expect(try await count(postgres, "SELECT count(*) FROM sessions") == 1)
            #expect(try await count(postgres, "SELECT count(*) FROM sessions WHERE expires_at > now()") == 1)
            #expect(try await count(postgres, "SELECT count(*) FROM api_tokens WHERE name IN ('recent', 'live')") == 2)
            #expect(try await count(postgres, "SELECT count(*) FROM api_tokens") == 2)
        }
    }

    @Test("board_snapshots counts cards and done cards per column, once per day; a second delivery does not run twice")
    func boardSnapshots() async throws {
        try await TestServers.withServers(logger: logger) { config, postgres, redis in
            let (user, board, column) = try await seed(postgres)
            for (n, done, archived) in [(1, false, false), (2, true, false), (3, true, true)] {
                try await postgres.query(
                    """
                    INSERT INTO cards (board_id, column_id, title, position, done, archived, created_by)
                    VALUES (\(board), \(column), \("c\(n)"), \("b\(n)"), \(done), \(archived), \(user))
                    """
                )
            }
            let jobs = handler(config, postgres, redis)
            let day = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18, the tick's day
            try await run(jobs, "board_snapshots", at: day)
            try await run(jobs, "board_snapshots", at: day)  // redelivered: counted, not run
            let rows = try await postgres.query(
                "SELECT day::text, cards, done FROM board_snapshots WHERE board_id = \(board) AND column_id = \(column)"
            )
            var found: [(String, Int32, Int32)] = []
            for try await row in rows.decode((String, Int32, Int32).self) { found.append(row) }
            #expect(found.count == 1)
            #expect(found.first?.0 == "2026-11-18" && found.first?.1 == 2 && found.first?.2 == 1)
            #expect(try await count(postgres, "SELECT duplicate_deliveries::bigint FROM cron_runs WHERE job = 'board_snapshots'") == 1)
        }
    }
}
