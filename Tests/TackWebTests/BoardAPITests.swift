import Foundation
import Hummingbird
import Testing

@testable import TackWeb

@Suite("Board API: boards, columns, cards, comments, labels, events")
struct BoardAPITests {
    /// A board with one column, made by `owner`; returns (board id, column id).
    func makeBoard(_ h: WebTestHarness, owner: TestUser) async throws -> (Int64, Int64) {
        let board = try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": "Roadmap", "description": "Q3"])
        #expect(board.status == .created)
        let boardID = try #require(board["board"]["id"].int64)
        let column = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: owner, json: ["name": "Todo"])
        #expect(column.status == .created)
        return (boardID, try #require(column["column"]["id"].int64))
    }

    @Test("a whole board's life: columns, cards, move, comment, labels, snapshot, events, history, search")
    func lifecycle() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let board = try await h.request(.post, "/api/v1/boards", as: ann, json: ["name": "Roadmap"])
            #expect(board.status == .created)
            #expect(board["version"].int == 1)
            #expect(board["board"]["role"].string == "owner")
            let boardID = try #require(board["board"]["id"].int64)

            let todo = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: ann, json: ["name": "Todo"])
            let done = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: ann, json: ["name": "Done", "wip_limit": 3])
            let todoID = try #require(todo["column"]["id"].int64)
            let doneID = try #require(done["column"]["id"].int64)
            #expect(done["column"]["wip_limit"].int == 3)

            let label = try await h.request(.post, "/api/v1/boards/\(boardID)/labels", as: ann, json: ["name": "bug", "color": "#E11D48"])
            #expect(label.status == .created)
            #expect(label["label"]["color"].string == "#e11d48")
            let labelID = try #require(label["label"]["id"].int64)

            var cardIDs: [Int64] = []
            for title in ["Write spec", "Build it", "Ship it"] {
                let card = try await h.request(
                    .post,
                    "/api/v1/boards/\(boardID)/cards",
                    as: ann,
                    json: ["column_id": todoID, "title": title, "description": "**bold** <script>x</script>"]
                )
                #expect(card.status == .created)
                cardIDs.append(try #require(card["card"]["id"].int64))
            }
            let updated = try await h.request(
                .patch,
                "/api/v1/boards/\(boardID)/cards/\(cardIDs[0])",
                as: ann,
                json: ["due_at": "2030-01-31T17:00:00Z", "add_labels": [labelID], "add_assignees": [ann.id], "done": true]
            )
            #expect(updated.status == .ok)
            #expect(updated["card"]["due_at"].string == "2030-01-31T17:00:00Z")
            #expect(updated["card"]["labels"][0].int64 == labelID)
            let cleared = try await h.request(.patch, "/api/v1/boards/\(boardID)/cards/\(cardIDs[0])", as: ann, json: ["due_at": NSNull()])
            #expect(cleared["card"]["due_at"].isNull)

            let moved = try await h.request(
                .post,
                "/api/v1/boards/\(boardID)/cards/\(cardIDs[2])/move",
                as: ann,
                json: ["column_id": doneID, "index": 0]
            )
            #expect(moved.status == .ok)
            #expect(moved["card"]["column_id"].int64 == doneID)
            let reordered = try await h.request(
                .post,
                "/api/v1/boards/\(boardID)/cards/\(cardIDs[1])/move",
                as: ann,
                json: ["column_id": todoID, "index": 0]
            )
            #expect(reordered.status == .ok)

            let comment = try await h.request(.post, "/api/v1/boards/\(boardID)/cards/\(cardIDs[1])/comments", as: ann, json: ["body": "Looks good"])
            #expect(comment.status == .created)

            let snapshot = try await h.request(.get, "/api/v1/boards/\(boardID)", as: ann)
            #expect(snapshot.status == .ok)
            let version = try #require(snapshot["board"]["version"].int)
            #expect(version == comment["version"].int)
            #expect(snapshot["columns"].array?.map { $0["name"].string } == ["Todo", "Done"])
            let order = snapshot["cards"].array?.map { $0["id"].int64 } ?? []
            #expect(order == [cardIDs[1], cardIDs[0], cardIDs[2]])
            #expect(snapshot["members"][0]["user_id"].int64 == ann.id)

            let events = try await h.request(.get, "/api/v1/boards/\(boardID)/events?after=0", as: ann)
            let kinds = events["events"].array?.compactMap { $0["kind"].string } ?? []
            #expect(kinds.first == "board.created")
            #expect(kinds.contains("card.moved") && kinds.contains("comment.created") && kinds.contains("label.created"))
            let versions = events["events"].array?.compactMap { $0["version"].int } ?? []
            #expect(versions == Array(1...version))
            #expect(events["last_version"].int == version)
            let page = try await h.request(.get, "/api/v1/boards/\(boardID)/events?after=2&limit=3", as: ann)
            #expect(page["events"].array?.compactMap { $0["version"].int } == [3, 4, 5])
            #expect(page["has_more"].bool == true)

            let history = try await h.request(.get, "/api/v1/boards/\(boardID)/cards/\(cardIDs[0])/history", as: ann)
            #expect(history["events"].array?.compactMap { $0["kind"].string } == ["card.updated", "card.updated", "card.created"])

            let found = try await h.request(.get, "/api/v1/boards/\(boardID)/search?q=ship", as: ann)
            #expect(found["items"].array?.compactMap { $0["id"].int64 } == [cardIDs[2]])

            let deleted = try await h.request(.delete, "/api/v1/boards/\(boardID)/cards/\(cardIDs[2])", as: ann)
            #expect(deleted.status == .ok)
            #expect(deleted["version"].int == version + 1)
            let gone = try await h.request(.get, "/api/v1/boards/\(boardID)/cards/\(cardIDs[2])", as: ann)
            #expect(gone.status == .notFound)
            #expect(gone.errorCode == "card_not_found")
        }
    }

    enum Caller: CaseIterable { case owner, admin, member, viewer, outsider, anonymous }

    @Test(
        "search across boards finds cards on the caller's boards only, with board and column, archived last; q is validated; archived cards are listed apart"
    )
    func searchAcrossBoards() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let bob = try await h.createUser()
            func card(_ owner: TestUser, board name: String, titles: [String]) async throws -> (Int64, [Int64]) {
                let board = try #require(try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": name])["board"]["id"].int64)
                let column = try #require(
                    try await h.request(.post, "/api/v1/boards/\(board)/columns", as: owner, json: ["name": "Todo"])["column"]["id"].int64
                )
                var ids: [Int64] = []
                for title in titles {
                    ids.append(
                        try #require(
                            try await h.request(.post, "/api/v1/boards/\(board)/cards", as: owner, json: ["column_id": column, "title": title])[
                                "card"
                            ]["id"].int64
                        )
                    )
                }
                return (board, ids)
            }
            let (roadmap, first) = try await card(ann, board: "Roadmap", titles: ["Ship the release", "Release notes", "Coffee"])
            let (launch, second) = try await card(ann, board: "Launch", titles: ["Release party"])
            _ = try await card(bob, board: "Bob's", titles: ["Release Bob's secret"])
            _ = try await h.request(.patch, "/api/v1/boards/\(roadmap)/cards/\(first[1])", as: ann, json: ["archived": true])

            let found = try await h.request(.get, "/api/v1/search?q=releas", as: ann)
            #expect(found.status == .ok)
            let items = found["items"].array ?? []
            #expect(Set(items.prefix(2).compactMap { $0["card_id"].int64 }) == [first[0], second[0]], "the unarchived matches first")
            #expect(items.last?["card_id"].int64 == first[1] && items.last?["archived"].bool == true, "the archived one last")
            #expect(items.count == 3, "nothing from a board the caller is not on")
            let party = items.first { $0["card_id"].int64 == second[0] }
            #expect(party?["board_id"].int64 == launch && party?["board_name"].string == "Launch" && party?["column_name"].string == "Todo")
            #expect((try await h.request(.get, "/api/v1/search?q=release%20bob", as: ann))["items"].array?.isEmpty == true)
            #expect((try await h.request(.get, "/api/v1/search?q=release%20bob", as: bob))["items"].array?.count == 1)
            for bad in ["", "%20%20", String(repeating: "a", count: 201)] {
                let refused = try await h.request(.get, "/api/v1/search?q=\(bad)", as: ann)
                #expect(refused.status == .badRequest && refused.errorField == "q", "q=\(bad)")
            }
            #expect(try await h.request(.get, "/api/v1/search?q=release").status == .unauthorized)
            // A board's archived cards are listed apart (what the board settings offer to restore).
            let archived = try await h.request(.get, "/api/v1/boards/\(roadmap)/cards?archived=true", as: ann)
            #expect(archived["items"].array?.compactMap { $0["id"].int64 } == [first[1]])
            let open = try await h.request(.get, "/api/v1/boards/\(roadmap)/cards", as: ann)
            #expect(Set(open["items"].array?.compactMap { $0["id"].int64 } ?? []) == [first[0], first[2]])
            #expect((try await h.request(.get, "/api/v1/boards/\(roadmap)/cards?archived=maybe", as: ann)).errorField == "archived")
            #expect((try await h.request(.get, "/api/v1/boards/\(roadmap)/cards?archived=true", as: bob)).status == .notFound)
        }
    }

    @Test("the snapshot is cached by version, yet shows every write, each caller's own role, and nothing to a removed member")
    func snapshotFollowsWrites() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let bob = try await h.createUser()
            let (boardID, columnID) = try await makeBoard(h, owner: ann)
            _ = try await h.request(.put, "/api/v1/boards/\(boardID)/members", as: ann, json: ["email": bob.email, "role": "viewer"])
            let first = try await h.request(.get, "/api/v1/boards/\(boardID)", as: ann)
            #expect(try await h.request(.get, "/api/v1/boards/\(boardID)", as: ann)["board"]["version"].int == first["board"]["version"].int)
            let card = try await h.request(.post, "/api/v1/boards/\(boardID)/cards", as: ann, json: ["column_id": columnID, "title": "New"])
            let after = try await h.request(.get, "/api/v1/boards/\(boardID)", as: ann)
            #expect(after["board"]["version"].int == card["version"].int)
            #expect(after["cards"].array?.map { $0["title"].string } == ["New"])
            #expect(after["board"]["role"].string == "owner")
            let asBob = try await h.request(.get, "/api/v1/boards/\(boardID)", as: bob)
            #expect(asBob["board"]["role"].string == "viewer")
            #expect(asBob["cards"].array?.count == 1)
            _ = try await h.request(.delete, "/api/v1/boards/\(boardID)/members/\(bob.id)", as: ann)
            #expect(try await h.request(.get, "/api/v1/boards/\(boardID)", as: bob).status == .notFound)
        }
    }

    @Test("authorization: every role, a non-member and an anonymous caller against every kind of action")
    func authorizationMatrix() async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let (boardID, columnID) = try await makeBoard(h, owner: owner)
            var users: [Caller: TestUser] = [.owner: owner]
            for (caller, role) in [(Caller.admin, "admin"), (.member, "member"), (.viewer, "viewer")] {
                let user = try await h.createUser()
                let added = try await h.request(.put, "/api/v1/boards/\(boardID)/members", as: owner, json: ["email": user.email, "role": role])
                #expect(added.status == .ok)
                users[caller] = user
            }
            users[.outsider] = try await h.createUser()
            let card = try await h.request(.post, "/api/v1/boards/\(boardID)/cards", as: owner, json: ["column_id": columnID, "title": "t"])
            let cardID = try #require(card["card"]["id"].int64)

            // Expected status per caller: owner, admin, member, viewer, outsider, anonymous.
            let actions: [(String, HTTPRequest.Method, String, [String: Any]?, [HTTPResponse.Status])] = [
                ("read the board", .get, "/api/v1/boards/\(boardID)", nil, [.ok, .ok, .ok, .ok, .notFound, .unauthorized]),
                ("read events", .get, "/api/v1/boards/\(boardID)/events", nil, [.ok, .ok, .ok, .ok, .notFound, .unauthorized]),
                (
                    "add a card", .post, "/api/v1/boards/\(boardID)/cards", ["column_id": columnID, "title": "x"],
                    [.created, .created, .created, .forbidden, .notFound, .unauthorized]
                ),
                (
                    "edit a card", .patch, "/api/v1/boards/\(boardID)/cards/\(cardID)", ["title": "y"],
                    [.ok, .ok, .ok, .forbidden, .notFound, .unauthorized]
                ),
                (
                    "comment", .post, "/api/v1/boards/\(boardID)/cards/\(cardID)/comments", ["body": "hi"],
                    [.created, .created, .created, .forbidden, .notFound, .unauthorized]
                ),
                (
                    "add a column", .post, "/api/v1/boards/\(boardID)/columns", ["name": "c"],
                    [.created, .created, .created, .forbidden, .notFound, .unauthorized]
                ),
                (
                    "rename the board", .patch, "/api/v1/boards/\(boardID)", ["name": "n"],
                    [.ok, .ok, .forbidden, .forbidden, .notFound, .unauthorized]
                ),
                (
                    "manage members", .put, "/api/v1/boards/\(boardID)/members", ["email": users[.viewer]!.email, "role": "viewer"],
                    [.ok, .ok, .forbidden, .forbidden, .notFound, .unauthorized]
                ),
            ]
            for (what, method, path, json, expected) in actions {
                for (caller, status) in zip(Caller.allCases, expected) {
                    let reply = try await h.request(method, path, as: users[caller], json: json)
                    #expect(reply.status == status, "\(caller) may\(status.code < 400 ? "" : " not") \(what): got \(reply.status) \(reply.body)")
                    if status == .notFound { #expect(reply.errorCode == "board_not_found") }
                }
            }
            // Ownership: only an owner grants it; the last owner cannot leave; only an owner deletes.
            let grant = try await h.request(
                .put,
                "/api/v1/boards/\(boardID)/members",
                as: users[.admin],
                json: ["email": users[.member]!.email, "role": "owner"]
            )
            #expect(grant.status == .forbidden)
            let lastOwner = try await h.request(.delete, "/api/v1/boards/\(boardID)/members/\(owner.id)", as: owner)
            #expect(lastOwner.status == .conflict && lastOwner.errorCode == "last_owner")
            // A read-only token reads but never writes; a session write needs the CSRF token.
            #expect(try await h.request(.get, "/api/v1/boards/\(boardID)", as: owner, via: .readOnly).status == .ok)
            #expect(
                try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: owner, via: .readOnly, json: ["name": "z"]).status == .forbidden
            )
            #expect(try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: owner, via: .session, json: ["name": "z"]).status == .created)
            #expect(
                try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: owner, via: .sessionWithoutCSRF, json: ["name": "z"]).status
                    == .forbidden
            )
            for caller in [Caller.admin, .member, .viewer] {
                #expect(try await h.request(.delete, "/api/v1/boards/\(boardID)", as: users[caller]).status == .forbidden)
            }
            #expect(try await h.request(.delete, "/api/v1/boards/\(boardID)", as: owner).status == .noContent)
            #expect(try await h.request(.get, "/api/v1/boards/\(boardID)", as: owner).status == .notFound)
        }
    }

    @Test("validation: missing, oversized, wrong type and unknown fields are 400s naming the field, and store nothing")
    func validation() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let (boardID, columnID) = try await makeBoard(h, owner: ann)
            let before = try await h.request(.get, "/api/v1/boards/\(boardID)", as: ann)
            let cases: [([String: Any], String)] = [
                (["column_id": columnID], "title"),
                (["column_id": columnID, "title": "   "], "title"),
                (["column_id": columnID, "title": String(repeating: "x", count: 501)], "title"),
                (["column_id": "seven", "title": "t"], "column_id"),
                (["column_id": columnID, "title": "t", "colour": "red"], "colour"),
                (["column_id": columnID, "title": "t", "due_at": "tomorrow"], "due_at"),
                (["column_id": columnID, "title": "t", "assignees": [999_999]], "assignees"),
                (["column_id": 999_999, "title": "t"], "column_id"),
                (["column_id": columnID, "title": "t", "index": -1], "index"),
            ]
            for (json, field) in cases {
                let reply = try await h.request(.post, "/api/v1/boards/\(boardID)/cards", as: ann, json: json)
                #expect(reply.status == .badRequest, "\(json): \(reply.status) \(reply.body)")
                #expect(reply.errorField == field, "\(json): \(reply.body)")
            }
            let labelReply = try await h.request(.post, "/api/v1/boards/\(boardID)/labels", as: ann, json: ["name": "x", "color": "red"])
            #expect(labelReply.errorField == "color")
            let columnReply = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: ann, json: ["name": "x", "wip_limit": 0])
            #expect(columnReply.errorField == "wip_limit")
            let after = try await h.request(.get, "/api/v1/boards/\(boardID)", as: ann)
            #expect(after["board"]["version"].int == before["board"]["version"].int, "a refused write leaves no event")
            #expect(after["cards"].array?.isEmpty == true)
        }
    }

    @Test("resources of one board cannot be reached through another")
    func crossBoard() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let (first, firstColumn) = try await makeBoard(h, owner: ann)
            let (second, _) = try await makeBoard(h, owner: ann)
            let card = try await h.request(.post, "/api/v1/boards/\(first)/cards", as: ann, json: ["column_id": firstColumn, "title": "t"])
            let cardID = try #require(card["card"]["id"].int64)
            #expect(try await h.request(.get, "/api/v1/boards/\(second)/cards/\(cardID)", as: ann).status == .notFound)
            #expect(try await h.request(.patch, "/api/v1/boards/\(second)/cards/\(cardID)", as: ann, json: ["title": "x"]).status == .notFound)
            let wrongColumn = try await h.request(.post, "/api/v1/boards/\(second)/cards", as: ann, json: ["column_id": firstColumn, "title": "t"])
            #expect(wrongColumn.errorField == "column_id")
            let nonEmpty = try await h.request(.delete, "/api/v1/boards/\(first)/columns/\(firstColumn)", as: ann)
            #expect(nonEmpty.status == .conflict && nonEmpty.errorCode == "column_not_empty")
        }
    }
}
