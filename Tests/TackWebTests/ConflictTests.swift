import Foundation
import Hummingbird
import TackCore
import Testing

@testable import TackWeb

/// Two people on one board never silently erase each other's work: typed values are replaced only
/// on the version they were based on, sets merge, moves name their target, and every write is one
/// event through the one pipeline.
@Suite("Conflict-safe writes: versions, If-Match, merging sets, moves, one event per change")
struct ConflictTests {
    /// A board with a column, a card, a label and a comment, made by `owner`.
    struct Fixture {
        var board: Int64
        var column: Int64
        var card: Int64
        var label: Int64
        var comment: Int64
    }

    func fixture(_ h: WebTestHarness, owner: TestUser) async throws -> Fixture {
        let board = try #require(try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": "Roadmap"])["board"]["id"].int64)
        let column = try #require(
            try await h.request(.post, "/api/v1/boards/\(board)/columns", as: owner, json: ["name": "Todo"])["column"]["id"].int64
        )
        let card = try #require(
            try await h.request(.post, "/api/v1/boards/\(board)/cards", as: owner, json: ["column_id": column, "title": "Spec"])["card"]["id"].int64
        )
        let label = try #require(
            try await h.request(
                .post,
                "/api/v1/boards/\(board)/labels",
                as: owner,
                json: ["name": "bug", "color": "#e11d48"]
            )["label"]["id"].int64
        )
        let comment = try #require(
            try await h.request(
                .post,
                "/api/v1/boards/\(board)/cards/\(card)/comments",
                as: owner,
                json: ["body": "first"]
            )["comment"]["id"].int64
        )
        return Fixture(board: board, column: column, card: card, label: label, comment: comment)
    }

    func ifMatch(_ version: Int64) -> HTTPFields { [.ifMatch: "\"\(version)\""] }

    /// One replaceable field of one object: where it lives, how to read its version, and a new value.
    struct Field: Sendable {
        var key: String
        var path: String
        var field: String
        var value: @Sendable (Int) -> Any
    }

    @Test("a stale If-Match or expected_version on every replaceable field answers 412 with the current object; a current one is taken")
    func staleWritesAreRefused() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let bob = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            _ = try await h.request(.put, "/api/v1/boards/\(f.board)/members", as: ann, json: ["email": bob.email, "role": "admin"])
            let b = "/api/v1/boards/\(f.board)"
            let fields = [
                Field(key: "card", path: "\(b)/cards/\(f.card)", field: "title") { "Title \($0)" },
                Field(key: "card", path: "\(b)/cards/\(f.card)", field: "description") { "Text \($0)" },
                Field(key: "card", path: "\(b)/cards/\(f.card)", field: "due_at") { "2031-01-\(10 + $0)T09:00:00Z" },
                Field(key: "column", path: "\(b)/columns/\(f.column)", field: "name") { "Column \($0)" },
                Field(key: "column", path: "\(b)/columns/\(f.column)", field: "wip_limit") { $0 + 3 },
                Field(key: "comment", path: "\(b)/comments/\(f.comment)", field: "body") { "Comment \($0)" },
                Field(key: "label", path: "\(b)/labels/\(f.label)", field: "name") { "label \($0)" },
                Field(key: "label", path: "\(b)/labels/\(f.label)", field: "color") { "#00000\($0)" },
                Field(key: "board", path: b, field: "name") { "Board \($0)" },
                Field(key: "board", path: b, field: "description") { "About \($0)" },
            ]
            for spec in fields {
                // Ann's write is based on version `base`; in between, another write changes the object.
                let first = try await h.request(.patch, spec.path, as: ann, json: [spec.field: spec.value(1)])
                #expect(first.status == .ok, "\(spec.key).\(spec.field)")
                let versionKey = spec.key == "board" ? "changed_version" : "version"
                let base = try #require(first[spec.key][versionKey].int64)
                #expect(first.headers[.eTag] == "\"\(base)\"", "the ETag is the object's version: \(spec.key)")
                #expect(first["event"]["version"].int64 == first["version"].int64, "the reply carries its event")
                let author = spec.key == "comment" ? ann : bob
                let theirs = try await h.request(.patch, spec.path, as: author, json: [spec.field: spec.value(2), "expected_version": base])
                #expect(theirs.status == .ok, "\(spec.key).\(spec.field) with a current expected_version")
                let now = try #require(theirs[spec.key][versionKey].int64)
                #expect(now > base)

                let stale = try await h.request(.patch, spec.path, as: ann, json: [spec.field: spec.value(3)], headers: ifMatch(base))
                #expect(stale.status == .preconditionFailed, "\(spec.key).\(spec.field)")
                #expect(stale.errorCode == "version_conflict")
                #expect(stale[spec.key][versionKey].int64 == now, "the 412 carries the current \(spec.key)")
                #expect(stale[spec.key][spec.field] == theirs[spec.key][spec.field], "and its current \(spec.field)")
                #expect(stale.headers[.eTag] == "\"\(now)\"" || spec.key == "board")
                let staleBody = try await h.request(.patch, spec.path, as: ann, json: [spec.field: spec.value(3), "expected_version": base])
                #expect(staleBody.status == .preconditionFailed)

                // Nothing was lost: the other person's value is still there.
                let snapshot = try await h.request(.get, b, as: ann)
                let stored: TestJSON
                switch spec.key {
                case "board": stored = snapshot["board"]
                case "card": stored = snapshot["cards"].array?.first { $0["id"].int64 == f.card } ?? .null
                case "column": stored = snapshot["columns"].array?.first { $0["id"].int64 == f.column } ?? .null
                case "label": stored = snapshot["labels"].array?.first { $0["id"].int64 == f.label } ?? .null
                default:
                    stored = try await h.request(.get, "\(b)/cards/\(f.card)/comments", as: ann)["items"][0]
                }
                #expect(stored[spec.field] == theirs[spec.key][spec.field], "\(spec.key).\(spec.field) kept the other person's value")

                let current = try await h.request(.patch, spec.path, as: ann, json: [spec.field: spec.value(4)], headers: ifMatch(now))
                #expect(current.status == .ok, "\(spec.key).\(spec.field) with the current If-Match")
            }
            let card = try await h.request(.get, "\(b)/cards/\(f.card)", as: ann)
            let version = try #require(card["card"]["version"].int64 ?? card["version"].int64)
            #expect(card.headers[.eTag] == "\"\(version)\"")
            let malformed = try await h.request(
                .patch,
                "\(b)/cards/\(f.card)",
                as: ann,
                json: ["title": "x"],
                headers: [.ifMatch: "W/\"\(version)\""]
            )
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorField == "If-Match")
            let disagree = try await h.request(
                .patch,
                "\(b)/cards/\(f.card)",
                as: ann,
                json: ["title": "x", "expected_version": version + 1],
                headers: ifMatch(version)
            )
            #expect(disagree.status == .badRequest)
            #expect(disagree.errorField == "expected_version")
        }
    }

    @Test("replacing all labels or assignees needs a precondition (428); add/remove need none")
    func replaceAllNeedsPrecondition() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            let path = "/api/v1/boards/\(f.board)/cards/\(f.card)"
            for field in ["labels", "assignees"] {
                let id = field == "labels" ? f.label : ann.id
                let refused = try await h.request(.patch, path, as: ann, json: [field: [id]])
                #expect(refused.status == .preconditionRequired)
                #expect(refused.errorCode == "precondition_required")
                #expect(refused.errorField == field)
                let version = try #require(try await h.request(.get, path, as: ann)["version"].int64)
                let replaced = try await h.request(.patch, path, as: ann, json: [field: [id]], headers: ifMatch(version))
                #expect(replaced.status == .ok)
                #expect(replaced["card"][field].array?.compactMap(\.int64) == [id])
                let both = try await h.request(.patch, path, as: ann, json: [field: [id], "add_\(field)": [id]], headers: ifMatch(version))
                #expect(both.status == .badRequest)
            }
            let foreign = try await h.request(.patch, path, as: ann, json: ["add_labels": [f.label + 1000]])
            #expect(foreign.status == .badRequest)
            #expect(foreign.errorField == "labels")
        }
    }

    @Test("20 concurrent add/remove operations on labels and assignees merge exactly")
    func concurrentSetChangesMerge() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            let b = "/api/v1/boards/\(f.board)"
            var labels: [Int64] = []
            var users: [TestUser] = []
            for n in 0..<10 {
                labels.append(
                    try #require(
                        try await h.request(.post, "\(b)/labels", as: ann, json: ["name": "l\(n)", "color": "#123456"])["label"]["id"].int64
                    )
                )
                let user = try await h.createUser()
                _ = try await h.request(.put, "\(b)/members", as: ann, json: ["email": user.email, "role": "member"])
                users.append(user)
            }
            // Start with the odd ones on the card; then, all at once, each person adds an even one
            // and removes an odd one.
            let version = try #require(try await h.request(.get, "\(b)/cards/\(f.card)", as: ann)["version"].int64)
            let odd = stride(from: 1, to: 10, by: 2)
            let start = try await h.request(
                .patch,
                "\(b)/cards/\(f.card)",
                as: ann,
                json: ["labels": odd.map { labels[$0] }, "assignees": odd.map { users[$0].id }],
                headers: ifMatch(version)
            )
            #expect(start.status == .ok)
            let labelIDs = labels
            let members = users
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for n in 0..<10 {
                    let user = members[n]
                    let label = labelIDs[n]
                    let field = n % 2 == 0 ? "add" : "remove"
                    group.addTask {
                        try await h.request(.patch, "\(b)/cards/\(f.card)", as: user, json: ["\(field)_labels": [label]]).status
                    }
                    group.addTask {
                        try await h.request(.patch, "\(b)/cards/\(f.card)", as: user, json: ["\(field)_assignees": [user.id]]).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count == 20 && statuses.allSatisfy { $0 == .ok })
            let card = try await h.request(.get, "\(b)/cards/\(f.card)", as: ann)
            let evens = stride(from: 0, to: 10, by: 2)
            #expect(card["labels"].array?.compactMap(\.int64) == evens.map { labels[$0] }.sorted())
            #expect(card["assignees"].array?.compactMap(\.int64) == evens.map { users[$0].id }.sorted())
            // Each change is one event, and the card's version is the last one.
            let events = try await h.request(.get, "\(b)/events?after=\(start["version"].int64 ?? 0)", as: ann)
            #expect(events["events"].array?.count == 20)
            #expect(card["version"].int64 == events["last_version"].int64)
        }
    }

    @Test("moves name their target: column and index, after or before a card; concurrent moves and an archive never lose or duplicate a card")
    func movesAreIntents() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            let b = "/api/v1/boards/\(f.board)"
            let done = try #require(try await h.request(.post, "\(b)/columns", as: ann, json: ["name": "Done"])["column"]["id"].int64)
            var ids = [f.card]
            for n in 1..<8 {
                ids.append(
                    try #require(
                        try await h.request(.post, "\(b)/cards", as: ann, json: ["column_id": f.column, "title": "c\(n)"])["card"]["id"].int64
                    )
                )
            }
            func order(_ column: Int64) async throws -> [Int64] {
                try await h.request(.get, b, as: ann)["cards"].array?.filter { $0["column_id"].int64 == column }.compactMap { $0["id"].int64 } ?? []
            }
            let after = try await h.request(.post, "\(b)/cards/\(ids[0])/move", as: ann, json: ["after": ids[3]])
            #expect(after.status == .ok)
            #expect(after["event"]["kind"].string == "card.moved")
            #expect(try await order(f.column) == [ids[1], ids[2], ids[3], ids[0], ids[4], ids[5], ids[6], ids[7]])
            let before = try await h.request(.post, "\(b)/cards/\(ids[7])/move", as: ann, json: ["before": ids[1]])
            #expect(before.status == .ok)
            #expect(try await order(f.column).prefix(2) == [ids[7], ids[1]])
            let wrongColumn = try await h.request(.post, "\(b)/cards/\(ids[2])/move", as: ann, json: ["after": ids[1], "column_id": done])
            #expect(wrongColumn.status == .badRequest)
            #expect(wrongColumn.errorField == "column_id")
            let itself = try await h.request(.post, "\(b)/cards/\(ids[2])/move", as: ann, json: ["after": ids[2]])
            #expect(itself.status == .badRequest)
            let both = try await h.request(.post, "\(b)/cards/\(ids[2])/move", as: ann, json: ["after": ids[1], "before": ids[3]])
            #expect(both.status == .badRequest)
            let nowhere = try await h.request(.post, "\(b)/cards/\(ids[2])/move", as: ann, json: [:])
            #expect(nowhere.status == .badRequest)

            // Everyone moves a card to Done at once while one of the cards is archived.
            let cardIDs = ids
            let results = try await withThrowingTaskGroup(of: (Int, HTTPResponse.Status).self) { group in
                for n in 1..<8 {
                    group.addTask {
                        let body: [String: Any] = n == 1 ? ["column_id": done, "index": 0] : ["column_id": done]
                        return (n, try await h.request(.post, "\(b)/cards/\(cardIDs[n])/move", as: ann, json: body).status)
                    }
                }
                group.addTask { (0, try await h.request(.patch, "\(b)/cards/\(cardIDs[4])", as: ann, json: ["archived": true]).status) }
                return try await group.reduce(into: [Int: HTTPResponse.Status]()) { $0[$1.0] = $1.1 }
            }
            #expect(results[0] == .ok)
            // The archived card's move either happened before the archive or was refused after it.
            #expect(results[4] == .ok || results[4] == .conflict)
            let snapshot = try await h.request(.get, b, as: ann)
            let cards = snapshot["cards"].array ?? []
            let visible = cards.compactMap { $0["id"].int64 }
            #expect(Set(visible).count == visible.count, "no card twice")
            #expect(Set(visible) == Set(ids).subtracting([ids[4]]), "every unarchived card once, the archived one not on the board")
            let archived = try await h.request(.get, "\(b)/cards/\(ids[4])", as: ann)
            #expect(archived["archived"].bool == true)
            let refused = try await h.request(.post, "\(b)/cards/\(ids[4])/move", as: ann, json: ["column_id": f.column])
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "card_archived")
            #expect(try await order(done).count == 6)
        }
    }

    @Test("every write kind appends exactly one event through the pipeline, the one its reply carries")
    func oneEventPerWrite() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let bob = try await h.createUser()
            let created = try await h.request(.post, "/api/v1/boards", as: ann, json: ["name": "Roadmap"])
            #expect(created["event"]["version"].int64 == 1)
            #expect(created["event"]["kind"].string == "board.created")
            #expect(created["board"]["changed_version"].int64 == 1)
            let boardID = try #require(created["board"]["id"].int64)
            let b = "/api/v1/boards/\(boardID)"
            var last: Int64 = 1
            /// Runs a write and checks it produced exactly one event of `kind`, the one in its reply.
            func write(
                _ method: HTTPRequest.Method,
                _ path: String,
                _ json: [String: Any]?,
                kind: String,
                headers: HTTPFields = [:]
            ) async throws -> TestReply {
                let reply = try await h.request(method, path, as: ann, json: json, headers: headers)
                #expect(reply.status == .ok || reply.status == .created, "\(kind): \(reply.body)")
                let events = try await h.request(.get, "\(b)/events?after=\(last)", as: ann)["events"].array ?? []
                #expect(events.count == 1, "\(kind) appended \(events.count) events")
                #expect(events.first?["kind"].string == kind)
                #expect(BoardEventKinds.contains(kind), "\(kind) is missing from the kinds webhooks may subscribe to")
                #expect(reply["event"]["kind"].string == kind)
                #expect(reply["event"]["version"].int64 == last + 1)
                #expect(reply["event"]["data"] == events.first?["payload"], "\(kind): the reply's event is the stored one")
                last += 1
                return reply
            }
            _ = try await write(.patch, b, ["name": "Plan"], kind: "board.updated")
            let column = try #require(try await write(.post, "\(b)/columns", ["name": "Todo"], kind: "column.created")["column"]["id"].int64)
            _ = try await write(.patch, "\(b)/columns/\(column)", ["name": "Doing"], kind: "column.updated")
            let card = try await write(.post, "\(b)/cards", ["column_id": column, "title": "Spec"], kind: "card.created")
            let cardID = try #require(card["card"]["id"].int64)
            #expect(card["card"]["version"].int64 == last)
            _ = try await write(.patch, "\(b)/cards/\(cardID)", ["title": "Spec v2"], kind: "card.updated")
            _ = try await write(.post, "\(b)/cards/\(cardID)/move", ["column_id": column, "index": 0], kind: "card.moved")
            let label = try #require(
                try await write(.post, "\(b)/labels", ["name": "bug", "color": "#e11d48"], kind: "label.created")["label"]["id"].int64
            )
            _ = try await write(.patch, "\(b)/labels/\(label)", ["color": "#000000"], kind: "label.updated")
            _ = try await write(.patch, "\(b)/cards/\(cardID)", ["add_labels": [label]], kind: "card.updated")
            let comment = try #require(
                try await write(.post, "\(b)/cards/\(cardID)/comments", ["body": "hi"], kind: "comment.created")["comment"]["id"].int64
            )
            _ = try await write(.patch, "\(b)/comments/\(comment)", ["body": "hello"], kind: "comment.updated")
            _ = try await write(.delete, "\(b)/comments/\(comment)", nil, kind: "comment.deleted")
            _ = try await write(.put, "\(b)/members", ["email": bob.email, "role": "member"], kind: "member.added")
            _ = try await write(.put, "\(b)/members", ["email": bob.email, "role": "viewer"], kind: "member.updated")
            _ = try await write(.delete, "\(b)/members/\(bob.id)", nil, kind: "member.removed")
            _ = try await write(.delete, "\(b)/labels/\(label)", nil, kind: "label.deleted")
            _ = try await write(.delete, "\(b)/cards/\(cardID)", nil, kind: "card.deleted")
            _ = try await write(.delete, "\(b)/columns/\(column)", nil, kind: "column.deleted")
            #expect(try await h.request(.get, b, as: ann)["board"]["version"].int64 == last)
        }
    }
}
