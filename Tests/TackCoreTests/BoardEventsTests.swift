import Foundation
import Logging
import PostgresNIO
import TackRedis
import Testing
@testable import TackCore

@Suite("Board writes and their events, against real PostgreSQL and Redis")
struct BoardEventsTests {
    let logger = TestEnvironment.logger

    /// Runs `body` with a migrated fresh database, a running Redis client and a board store.
    func withStore<T: Sendable>(_ body: @Sendable (BoardStore, EventLog, PostgresClient, RedisClient) async throws -> T) async throws -> T {
        let redisURL = try TestEnvironment.require("TACK_TEST_REDIS_URL")
        return try await TestEnvironment.withFreshDatabase { postgres, _ in
            let migrations = try Migration.loadAll(from: TestEnvironment.root + "/migrations")
            _ = try await Migrator(client: postgres, migrations: migrations, logger: logger).upgrade(nodeName: "test")
            // Board ids key Redis streams; tests share one Redis, so each database starts its ids elsewhere.
            try await postgres.query("ALTER TABLE boards ALTER COLUMN id RESTART WITH \(unescaped: String(Int64.random(in: 1_000_000...1_000_000_000_000)))")
            let redis = RedisClient(configuration: try RedisConfiguration(url: redisURL), logger: logger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await redis.run() }
                defer { group.cancelAll() }
                let log = EventLog(postgres: postgres, logger: logger)
                let publisher = EventPublisher(redis: redis, log: log, historySize: 1000, logger: logger)
                return try await body(BoardStore(postgres: postgres, publisher: publisher, logger: logger), log, postgres, redis)
            }
        }
    }

    func createUser(_ postgres: PostgresClient, _ email: String) async throws -> Int64 {
        let rows = try await postgres.query("""
            INSERT INTO users (email, name, password_hash) VALUES (\(email), \(email), 'x') RETURNING id
            """)
        for try await id in rows.decode(Int64.self) { return id }
        throw TestEnvironment.MissingServer(name: "user")
    }

    @Test("8 concurrent writers x 50 cards on one board: 400 new consecutive versions, one event each, all in the Redis stream")
    func concurrentWritesAreGapFree() async throws {
        try await withStore { store, log, postgres, redis in
            let user = try await createUser(postgres, "writer@example.com")
            let (board, created) = try await store.createBoard(name: "Load", description: "", creatorID: user)
            #expect(created.version == 1)
            let (column, _) = try await store.createColumn(boardID: board.id, actorID: user, name: "Todo", wipLimit: nil, index: nil)
            let versions = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var seen: [Int64] = []
                        for n in 0..<50 {
                            let (_, event) = try await store.createCard(boardID: board.id, actorID: user, columnID: column.id,
                                                                        title: "card \(writer)-\(n)", description: "", index: nil, changes: CardChanges())
                            seen.append(event.version)
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            #expect(versions.sorted() == Array(3...402))
            let events = try await log.events(boardID: board.id, after: 0, limit: 1000)
            #expect(events.map(\.version) == Array(1...402))
            #expect(events.filter { $0.kind == "card.created" }.count == 400)
            let rows = try await postgres.query("SELECT count(*)::BIGINT, count(published_at)::BIGINT, max(version) FROM events WHERE board_id = \(board.id)")
            for try await (count, published, maxVersion) in rows.decode((Int64, Int64, Int64).self) {
                #expect(count == 402)
                #expect(published == 402)
                #expect(maxVersion == 402)
            }
            let boardRows = try await postgres.query("SELECT version FROM boards WHERE id = \(board.id)")
            for try await version in boardRows.decode(Int64.self) { #expect(version == 402) }
            // Every version reached the board's history stream, with id version-0, in order.
            let stream = try await redis.sendChecked("XRANGE", RedisKeys.boardHistory(board.id), "-", "+")
            let ids = stream.array?.compactMap { $0.array?.first?.string } ?? []
            #expect(ids == (1...402).map { "\($0)-0" })
            // Card positions stay distinct and ordered with no renumbering.
            let cards = try await store.snapshot(boardID: board.id, userID: user).cards
            #expect(Set(cards.map(\.position)).count == 400)
            #expect(cards.map(\.position) == cards.map(\.position).sorted())
        }
    }

    @Test("publishing again is harmless; an unpublished event is found by the relay query")
    func republishIsIdempotent() async throws {
        try await withStore { store, log, postgres, redis in
            let user = try await createUser(postgres, "a@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: user)
            let events = try await log.events(boardID: board.id, after: 0, limit: 10)
            let publisher = EventPublisher(redis: redis, log: log, historySize: 1000, logger: logger)
            await publisher.publish(events)
            let length = try await redis.sendChecked("XLEN", RedisKeys.boardHistory(board.id))
            #expect(length.int == 1)
            try await postgres.query("UPDATE events SET published_at = NULL, created_at = now() - interval '1 minute' WHERE board_id = \(board.id)")
            let pending = try await log.unpublished(olderThan: .seconds(5), limit: 10)
            #expect(pending.map(\.version) == [1])
            await publisher.publish(pending)
            #expect(try await log.unpublished(olderThan: .seconds(5), limit: 10).isEmpty)
            #expect(try await redis.sendChecked("XLEN", RedisKeys.boardHistory(board.id)).int == 1)
        }
    }

    @Test("moving a card between neighbours never renumbers the others")
    func moveKeepsOthers() async throws {
        try await withStore { store, _, postgres, _ in
            let user = try await createUser(postgres, "m@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: user)
            let (todo, _) = try await store.createColumn(boardID: board.id, actorID: user, name: "Todo", wipLimit: nil, index: nil)
            let (done, _) = try await store.createColumn(boardID: board.id, actorID: user, name: "Done", wipLimit: 2, index: nil)
            var ids: [Int64] = []
            for n in 0..<5 {
                ids.append(try await store.createCard(boardID: board.id, actorID: user, columnID: todo.id, title: "c\(n)", description: "", index: nil, changes: CardChanges()).0.id)
            }
            let before = try await store.snapshot(boardID: board.id, userID: user).cards
            var move = CardChanges()
            move.columnID = todo.id
            move.index = 0
            let (moved, event) = try await store.updateCard(boardID: board.id, cardID: ids[4], actorID: user, changes: move)
            #expect(event.kind == "card.moved")
            let after = try await store.snapshot(boardID: board.id, userID: user).cards
            #expect(after.map(\.id) == [ids[4], ids[0], ids[1], ids[2], ids[3]])
            for card in after where card.id != moved.id {
                #expect(card.position == before.first { $0.id == card.id }?.position)
            }
            move.columnID = done.id
            move.index = nil
            let (inDone, _) = try await store.updateCard(boardID: board.id, cardID: ids[2], actorID: user, changes: move)
            #expect(inDone.columnID == done.id)
        }
    }

    @Test("mentions and new assignments notify the members concerned")
    func notifications() async throws {
        try await withStore { store, _, postgres, _ in
            let ann = try await createUser(postgres, "ann@example.com")
            let bob = try await createUser(postgres, "bob@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: ann)
            _ = try await store.setMember(boardID: board.id, actorID: ann, email: "bob@example.com", role: .member)
            let (column, _) = try await store.createColumn(boardID: board.id, actorID: ann, name: "Todo", wipLimit: nil, index: nil)
            var changes = CardChanges()
            changes.assignees = [bob]
            let (card, _) = try await store.createCard(boardID: board.id, actorID: ann, columnID: column.id, title: "t", description: "", index: nil, changes: changes)
            _ = try await store.createComment(boardID: board.id, cardID: card.id, actorID: ann, body: "ping @bob and @nobody")
            let rows = try await postgres.query("SELECT user_id, kind FROM notifications ORDER BY id")
            var seen: [String] = []
            for try await (user, kind) in rows.decode((Int64, String).self) { seen.append("\(user == bob ? "bob" : "other"):\(kind)") }
            #expect(seen == ["bob:assigned", "bob:mentioned"])
        }
    }

    @Test("positions: a key fits between any two keys")
    func positions() {
        var keys = [Position.between(nil, nil)]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let i = Int.random(in: 0...keys.count, using: &generator)
            let key = Position.between(i > 0 ? keys[i - 1] : nil, i < keys.count ? keys[i] : nil)
            if i > 0 { #expect(keys[i - 1] < key) }
            if i < keys.count { #expect(key < keys[i]) }
            #expect(Position.isValid(key))
            keys.insert(key, at: i)
        }
    }
}
