import Foundation
import Logging
import PostgresNIO
import TackRedis
import TackTestSupport
import Testing

@testable import TackCore

@Suite("Board writes and their events, against real PostgreSQL and Redis")
struct BoardEventsTests {
    let logger = Logger(label: "tack.test")

    /// Runs `body` with a migrated fresh database, a running Redis client and a board store.
    func withStore<T: Sendable>(_ body: @Sendable (BoardStore, EventLog, PostgresClient, RedisClient) async throws -> T) async throws -> T {
        try await TestServers.withServers(logger: logger) { _, postgres, redis in
            let log = EventLog(postgres: postgres, logger: logger)
            let publisher = EventPublisher(redis: redis, log: log, historySize: 1000, logger: logger)
            return try await body(BoardStore(postgres: postgres, publisher: publisher, logger: logger), log, postgres, redis)
        }
    }

    /// An insert's RETURNING gave nothing.
    struct NoRow: Error {}

    func createUser(_ postgres: PostgresClient, _ email: String) async throws -> Int64 {
        let rows = try await postgres.query(
            """
            INSERT INTO users (email, name, password_hash) VALUES (\(email), \(email), 'x') RETURNING id
            """
        )
        for try await id in rows.decode(Int64.self) { return id }
        throw NoRow()
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
                            let (_, event) = try await store.createCard(
                                boardID: board.id,
                                actorID: user,
                                columnID: column.id,
                                title: "card \(writer)-\(n)",
                                description: "",
                                index: nil,
                                changes: CardChanges()
                            )
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
            let rows = try await postgres.query(
                "SELECT count(*)::BIGINT, count(published_at)::BIGINT, max(version) FROM events WHERE board_id = \(board.id)"
            )
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

    @Test("cards created at once on one board: each gets its own answer (a viewer's and a wrong column's refused), the rest consecutive versions")
    func concurrentCreationsAnswerEach() async throws {
        try await withStore { store, log, postgres, _ in
            let ann = try await createUser(postgres, "ann@example.com")
            let vic = try await createUser(postgres, "vic@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: ann)
            _ = try await store.setMember(boardID: board.id, actorID: ann, email: "vic@example.com", role: .viewer)
            let (todo, _) = try await store.createColumn(boardID: board.id, actorID: ann, name: "Todo", wipLimit: nil, index: nil)
            let (done, _) = try await store.createColumn(boardID: board.id, actorID: ann, name: "Done", wipLimit: nil, index: nil)
            let outcomes = await withTaskGroup(of: (Int, Result<(Card, BoardEvent), any Error>).self) { group in
                for n in 0..<60 {
                    group.addTask {
                        let actor = n % 10 == 3 ? vic : ann
                        let column = n % 10 == 7 ? Int64.max : (n % 2 == 0 ? todo.id : done.id)
                        var changes = CardChanges()
                        if n % 10 == 5 { changes.assignees = [ann] }
                        do {
                            return (
                                n,
                                .success(
                                    try await store.createCard(
                                        boardID: board.id,
                                        actorID: actor,
                                        columnID: column,
                                        title: "c\(n)",
                                        description: "",
                                        index: n % 10 == 9 ? 0 : nil,
                                        changes: changes
                                    )
                                )
                            )
                        } catch {
                            return (n, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: [Int: Result<(Card, BoardEvent), any Error>]()) { $0[$1.0] = $1.1 }
            }
            var created: [Card] = []
            for (n, outcome) in outcomes {
                switch (n % 10, outcome) {
                case (3, .failure(let error)):
                    #expect((error as? BoardError)?.kind == .forbidden("This needs the member role on the board; you are viewer."))
                case (7, .failure(let error)):
                    #expect((error as? BoardError)?.kind == .invalid(field: "column_id", message: "column_id is not a column of this board."))
                case (let k, .success(let (card, event))) where k != 3 && k != 7:
                    #expect(card.title == "c\(n)" && event.cardID == card.id && event.kind == "card.created")
                    #expect(card.assignees == (k == 5 ? [ann] : []))
                    created.append(card)
                default: Issue.record("card \(n): unexpected \(outcome)")
                }
            }
            #expect(created.count == 48)
            let events = try await log.events(boardID: board.id, after: 0, limit: 1000)
            #expect(events.map(\.version) == Array(1...(4 + 48)))
            let snapshot = try await store.snapshot(boardID: board.id, userID: ann)
            #expect(snapshot.board.version == 52)
            #expect(Set(snapshot.cards.map(\.id)) == Set(created.map(\.id)))
            for column in [todo.id, done.id] {
                let positions = snapshot.cards.filter { $0.columnID == column }.map(\.position)
                #expect(Set(positions).count == positions.count && positions.allSatisfy(Position.isValid))
            }
        }
    }

    @Test("publishing after Redis lost a board's stream fills it from the log, from version 1")
    func publishFillsLostStream() async throws {
        try await withStore { store, log, postgres, redis in
            let user = try await createUser(postgres, "lost@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: user)
            _ = try await store.createColumn(boardID: board.id, actorID: user, name: "Todo", wipLimit: nil, index: nil)
            _ = try await store.createColumn(boardID: board.id, actorID: user, name: "Done", wipLimit: nil, index: nil)
            _ = try await redis.sendChecked("DEL", RedisKeys.boardHistory(board.id))
            let last = try await log.events(boardID: board.id, after: 2, limit: 10)
            let publisher = EventPublisher(redis: redis, log: log, historySize: 1000, logger: logger)
            #expect(await publisher.publish(last).map(\.version) == [1, 2, 3])
            let stream = try await redis.sendChecked("XRANGE", RedisKeys.boardHistory(board.id), "-", "+")
            #expect(stream.array?.compactMap { $0.array?.first?.string } == ["1-0", "2-0", "3-0"])
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

    @Test("a version the history stream holds under another event id (PostgreSQL lost commits) is not swallowed: the stream is rebuilt")
    func rewrittenHistoryReplacesTheStream() async throws {
        try await withStore { store, log, postgres, redis in
            let user = try await createUser(postgres, "r@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: user)
            for name in ["One", "Two", "Three"] {
                _ = try await store.createColumn(boardID: board.id, actorID: user, name: name, wipLimit: nil, index: nil)
            }
            let before = try await log.events(boardID: board.id, after: 0, limit: 10)
            #expect(before.map(\.version) == [1, 2, 3, 4])
            // PostgreSQL loses versions 3 and 4; the stream still has them. The next writes take 3 and 4 again.
            try await postgres.query("DELETE FROM events WHERE board_id = \(board.id) AND version > 2")
            try await postgres.query("UPDATE boards SET version = 2 WHERE id = \(board.id)")
            _ = try await store.createColumn(boardID: board.id, actorID: user, name: "Again", wipLimit: nil, index: nil)
            _ = try await store.createColumn(boardID: board.id, actorID: user, name: "Again 2", wipLimit: nil, index: nil)
            let after = try await log.events(boardID: board.id, after: 0, limit: 10)
            #expect(after.map(\.version) == [1, 2, 3, 4])
            #expect(after[2].id != before[2].id && after[0].id == before[0].id)
            let stream = try await redis.sendChecked("XRANGE", RedisKeys.boardHistory(board.id), "-", "+")
            let entries = stream.array?.compactMap { entry -> (String, String)? in
                guard let fields = entry.array?.last?.array?.compactMap(\.string), let u = fields.firstIndex(of: "u") else { return nil }
                return (entry.array?.first?.string ?? "", fields[u + 1])
            }
            #expect(entries?.map(\.0) == ["1-0", "2-0", "3-0", "4-0"])
            #expect(entries?.map(\.1) == after.map(\.idString), "the stream holds the events PostgreSQL has, ids included")
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
                ids.append(
                    try await store.createCard(
                        boardID: board.id,
                        actorID: user,
                        columnID: todo.id,
                        title: "c\(n)",
                        description: "",
                        index: nil,
                        changes: CardChanges()
                    ).0.id
                )
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
            // Indexes past either end mean last and first.
            let others = after.filter { $0.id != moved.id }.map(\.position)
            move.index = Int.max
            #expect(try await store.updateCard(boardID: board.id, cardID: moved.id, actorID: user, changes: move).0.position > others.max()!)
            move.index = Int.min
            #expect(try await store.updateCard(boardID: board.id, cardID: moved.id, actorID: user, changes: move).0.position < others.min()!)
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
            let (card, _) = try await store.createCard(
                boardID: board.id,
                actorID: ann,
                columnID: column.id,
                title: "t",
                description: "",
                index: nil,
                changes: changes
            )
            _ = try await store.createComment(boardID: board.id, cardID: card.id, actorID: ann, body: "ping @bob and @nobody")
            let rows = try await postgres.query("SELECT user_id, kind FROM notifications ORDER BY id")
            var seen: [String] = []
            for try await (user, kind) in rows.decode((Int64, String).self) { seen.append("\(user == bob ? "bob" : "other"):\(kind)") }
            #expect(seen == ["bob:assigned", "bob:mentioned"])
        }
    }

    @Test("a burst from one person on one card is one notification that says who, how many times and the newest excerpt")
    func notificationBursts() async throws {
        try await withStore { store, _, postgres, _ in
            let ann = try await createUser(postgres, "ann@example.com")
            let bob = try await createUser(postgres, "bob@example.com")
            let cid = try await createUser(postgres, "cid@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: ann)
            for email in ["bob@example.com", "cid@example.com"] {
                _ = try await store.setMember(boardID: board.id, actorID: ann, email: email, role: .member)
            }
            let (column, _) = try await store.createColumn(boardID: board.id, actorID: ann, name: "Todo", wipLimit: nil, index: nil)
            let (card, _) = try await store.createCard(
                boardID: board.id,
                actorID: ann,
                columnID: column.id,
                title: "Launch",
                description: "",
                index: nil,
                changes: CardChanges()
            )
            let (other, _) = try await store.createCard(
                boardID: board.id,
                actorID: ann,
                columnID: column.id,
                title: "Other",
                description: "",
                index: nil,
                changes: CardChanges()
            )
            let long = "@bob " + String(repeating: "word ", count: 60)
            for body in ["@bob first", "@bob   second\n\nline", long] {
                _ = try await store.createComment(boardID: board.id, cardID: card.id, actorID: ann, body: body)
            }
            // Another person, another card: their own notifications.
            _ = try await store.createComment(boardID: board.id, cardID: card.id, actorID: cid, body: "@bob from cid")
            _ = try await store.createComment(boardID: board.id, cardID: other.id, actorID: ann, body: "@bob elsewhere")
            let repository = NotificationRepository(postgres: postgres, logger: Logger(label: "test"))
            var items = try await repository.list(userID: bob, unreadOnly: false, limit: 10, before: nil)
            #expect(items.count == 3)
            let burst = try #require(items.first { $0.cardID == card.id && $0.actorID == ann })
            #expect(burst.times == 3 && burst.actorName == "ann@example.com" && burst.updatedAt != nil)
            struct Payload: Decodable { var excerpt: String }
            let excerpt = try JSONDecoder().decode(Payload.self, from: Data(burst.payload.utf8)).excerpt
            #expect(excerpt.count == NotificationRules.excerptLength && excerpt.hasPrefix("@bob word word") && excerpt.hasSuffix("\u{2026}"))
            #expect(NotificationRules.excerpt("@bob   second\n\nline") == "@bob second line")
            #expect(items.contains { $0.actorID == cid && $0.times == 1 } && items.contains { $0.cardID == other.id && $0.times == 1 })
            // Once read, the next mention is news again.
            _ = try await repository.markRead(userID: bob, ids: nil)
            _ = try await store.createComment(boardID: board.id, cardID: card.id, actorID: ann, body: "@bob after reading")
            items = try await repository.list(userID: bob, unreadOnly: true, limit: 10, before: nil)
            #expect(items.count == 1 && items[0].times == 1)
        }
    }

    @Test("an archived column leaves the board with its cards, takes no new card, and comes back with them")
    func archivedColumns() async throws {
        try await withStore { store, _, postgres, _ in
            let ann = try await createUser(postgres, "ann@example.com")
            let (board, _) = try await store.createBoard(name: "B", description: "", creatorID: ann)
            let (todo, _) = try await store.createColumn(boardID: board.id, actorID: ann, name: "Todo", wipLimit: nil, index: nil)
            let (done, _) = try await store.createColumn(boardID: board.id, actorID: ann, name: "Done", wipLimit: nil, index: nil)
            @Sendable func add(_ title: String, to column: Int64) async throws -> Card {
                try await store.createCard(
                    boardID: board.id,
                    actorID: ann,
                    columnID: column,
                    title: title,
                    description: "",
                    index: nil,
                    changes: CardChanges()
                ).0
            }
            @Sendable func archiveTodo(_ archived: Bool) async throws -> (BoardColumn, BoardEvent) {
                try await store.updateColumn(
                    boardID: board.id,
                    columnID: todo.id,
                    actorID: ann,
                    name: nil,
                    wipLimit: nil,
                    clearWipLimit: false,
                    index: nil,
                    archived: archived
                )
            }
            let kept = try await add("Paint the shed", to: todo.id)
            var archive = CardChanges()
            archive.archived = true
            let hidden = try await add("Old shed idea", to: todo.id)
            _ = try await store.updateCard(boardID: board.id, cardID: hidden.id, actorID: ann, changes: archive)

            let (archived, event) = try await archiveTodo(true)
            #expect(archived.archived && event.kind == "column.updated")
            var snapshot = try await store.snapshot(boardID: board.id, userID: ann)
            #expect(snapshot.columns.map(\.name) == ["Done"] && snapshot.cards.isEmpty)
            #expect(try await store.columns(boardID: board.id, archived: true).map(\.id) == [todo.id])
            #expect(try await store.search(userID: ann, query: "shed", limit: 10).isEmpty)
            await #expect(throws: BoardError.self) { _ = try await add("x", to: todo.id) }
            var move = CardChanges()
            move.columnID = todo.id
            let inDone = try await add("Done thing", to: done.id)
            await #expect(throws: BoardError.self) {
                _ = try await store.updateCard(boardID: board.id, cardID: inDone.id, actorID: ann, changes: move)
            }
            // The card stays readable by its id while its column is archived.
            #expect(try await store.card(boardID: board.id, cardID: kept.id).title == "Paint the shed")

            _ = try await archiveTodo(false)
            snapshot = try await store.snapshot(boardID: board.id, userID: ann)
            #expect(snapshot.columns.map(\.name) == ["Todo", "Done"])
            #expect(Set(snapshot.cards.map(\.title)) == ["Paint the shed", "Done thing"])  // the archived card stays archived
        }
    }

    @Test("an event's JSON carries any text in its kind exactly")
    func eventJSONQuotesText() throws {
        for text in ["card.created", "quote \" backslash \\ slash / tab \t newline \n nul \u{0} bell \u{7} é 🚀"] {
            let quoted = BoardEvent.quote(text)
            #expect(try JSONDecoder().decode(String.self, from: Data(quoted.utf8)) == text)
        }
    }

    @Test("positions: appending keeps keys short (a column of 100,000 cards stays under the index's key size)")
    func appendedPositionsStayShort() {
        let keys = Position.sequence(count: 100_000)
        #expect(keys == keys.sorted())
        #expect(Set(keys).count == keys.count)
        #expect(keys.allSatisfy(Position.isValid))
        #expect(keys.map(\.utf8.count).max() ?? 0 <= 4)
        // Keys made by halving before appended keys had a head letter still take appends and inserts.
        for old in ["V", "l", "zzzzV", "y"] {
            let next = Position.between(old, nil)
            #expect(old < next && Position.isValid(next))
            let middle = Position.between(old, next)
            #expect(old < middle && middle < next && Position.isValid(middle))
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
