import Foundation
import Hummingbird
import PostgresNIO
import TackCore
import Testing

@testable import TackWeb

/// Checklists on cards: several per card, ordered items ticked, given, dated, moved and deleted;
/// every change one event carrying the card's progress; the card and the snapshot count them.
@Suite("Checklists: items, order, progress on the card, events, rules")
struct ChecklistTests {
    struct Fixture {
        var board: Int64
        var card: Int64
        var path: String { "/api/v1/boards/\(board)" }
    }

    func fixture(_ h: WebTestHarness, owner: TestUser) async throws -> Fixture {
        let board = try #require(try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": "Launch"])["board"]["id"].int64)
        let column = try #require(
            try await h.request(.post, "/api/v1/boards/\(board)/columns", as: owner, json: ["name": "Todo"])["column"]["id"].int64
        )
        let card = try #require(
            try await h.request(.post, "/api/v1/boards/\(board)/cards", as: owner, json: ["column_id": column, "title": "Ship"])["card"]["id"].int64
        )
        return Fixture(board: board, card: card)
    }

    @Test("a checklist with items: ticking, order, moves, progress on the card and in every event")
    func buildTickAndReorder() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            let created = try await h.request(
                .post,
                "\(f.path)/cards/\(f.card)/checklists",
                as: ann,
                json: ["title": "Before launch", "items": [["text": "Write notes"], ["text": "Tag release", "done": true]]]
            )
            #expect(created.status == .created)
            let list = try #require(created["checklist"]["id"].int64)
            #expect(created["checklist"]["items"].array?.map { $0["text"].string } == ["Write notes", "Tag release"])
            #expect(created["event"]["kind"].string == "checklist.created")
            #expect(created["event"]["data"]["card_progress"]["total"].int == 2)
            #expect(created["event"]["data"]["card_progress"]["done"].int == 1)

            let third = try await h.request(.post, "\(f.path)/checklists/\(list)/items", as: ann, json: ["text": "Announce", "index": 0])
            #expect(third.status == .created)
            let announce = try #require(third["item"]["id"].int64)
            #expect(third["event"]["kind"].string == "checklist_item.created")
            #expect(third["event"]["card"].int64 == f.card)

            let ticked = try await h.request(.patch, "\(f.path)/checklist_items/\(announce)", as: ann, json: ["done": true])
            #expect(ticked.status == .ok)
            #expect(ticked["event"]["data"]["card_progress"]["done"].int == 2)
            #expect(ticked["event"]["data"]["card_progress"]["total"].int == 3)

            // Moved last, then read back in order.
            _ = try await h.request(.patch, "\(f.path)/checklist_items/\(announce)", as: ann, json: ["index": 5])
            let listed = try await h.request(.get, "\(f.path)/cards/\(f.card)/checklists", as: ann)
            #expect(listed["items"][0]["items"].array?.map { $0["text"].string } == ["Write notes", "Tag release", "Announce"])

            // The card and the snapshot count items and comments.
            _ = try await h.request(.post, "\(f.path)/cards/\(f.card)/comments", as: ann, json: ["body": "go"])
            let card = try await h.request(.get, "\(f.path)/cards/\(f.card)", as: ann)
            #expect(card["checklist_progress"]["total"].int == 3)
            #expect(card["checklist_progress"]["done"].int == 2)
            #expect(card["comment_count"].int == 1)
            let snapshot = try await h.request(.get, f.path, as: ann)
            #expect(snapshot["cards"][0]["checklist_progress"]["done"].int == 2)

            // A second checklist; an item moves into it; deleting the first leaves the moved item.
            let second = try #require(
                try await h.request(.post, "\(f.path)/cards/\(f.card)/checklists", as: ann, json: ["title": "After"])["checklist"]["id"].int64
            )
            let moved = try await h.request(.patch, "\(f.path)/checklist_items/\(announce)", as: ann, json: ["checklist_id": second])
            #expect(moved["item"]["checklist_id"].int64 == second)
            let deleted = try await h.request(.delete, "\(f.path)/checklists/\(list)", as: ann)
            #expect(deleted.status == .ok)
            #expect(deleted["event"]["kind"].string == "checklist.deleted")
            #expect(deleted["event"]["data"]["card_progress"]["total"].int == 1)
            #expect(deleted["event"]["data"]["card_progress"]["done"].int == 1)
            let left = try await h.request(.get, "\(f.path)/cards/\(f.card)/checklists", as: ann)
            #expect(left["items"].array?.count == 1)
            #expect(left["items"][0]["items"][0]["id"].int64 == announce)

            // Every change was one event, in the card's history.
            let history = try await h.request(.get, "\(f.path)/cards/\(f.card)/history", as: ann)
            let kinds = history["events"].array?.compactMap { $0["kind"].string } ?? []
            #expect(kinds.filter { $0.hasPrefix("checklist") }.count == 7)
        }
    }

    @Test("assignees must be members and are dropped when they leave; typed text needs the version it was based on")
    func assigneesAndConflicts() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let bob = try await h.createUser()
            let eve = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            _ = try await h.request(.put, "\(f.path)/members", as: ann, json: ["email": bob.email, "role": "member"])
            let list = try #require(
                try await h.request(.post, "\(f.path)/cards/\(f.card)/checklists", as: ann, json: ["title": "Tasks"])["checklist"]["id"].int64
            )
            let stranger = try await h.request(.post, "\(f.path)/checklists/\(list)/items", as: ann, json: ["text": "x", "assignee_id": eve.id])
            #expect(stranger.status == .badRequest)
            #expect(stranger.errorField == "assignee_id")

            let item = try await h.request(
                .post,
                "\(f.path)/checklists/\(list)/items",
                as: ann,
                json: ["text": "Review", "assignee_id": bob.id, "due_at": "2031-05-01T12:00:00Z"]
            )
            let id = try #require(item["item"]["id"].int64)
            let version = try #require(item["item"]["version"].int64)
            #expect(item["item"]["assignee_id"].int64 == bob.id)

            // Bob edits the text on the current version; Ann's edit based on the old one is refused with Bob's.
            let bobs = try await h.request(
                .patch,
                "\(f.path)/checklist_items/\(id)",
                as: bob,
                json: ["text": "Review PR", "expected_version": version]
            )
            #expect(bobs.status == .ok)
            let anns = try await h.request(
                .patch,
                "\(f.path)/checklist_items/\(id)",
                as: ann,
                json: ["text": "Review spec", "expected_version": version]
            )
            #expect(anns.status == .preconditionFailed)
            #expect(anns.errorCode == "version_conflict")
            #expect(anns["item"]["text"].string == "Review PR")
            // Ticking merges: no version needed.
            #expect(try await h.request(.patch, "\(f.path)/checklist_items/\(id)", as: ann, json: ["done": true]).status == .ok)

            // Clearing the due date with null; Bob leaves and is no longer the item's.
            let cleared = try await h.request(.patch, "\(f.path)/checklist_items/\(id)", as: ann, json: ["due_at": NSNull()])
            #expect(cleared["item"]["due_at"].isNull)
            _ = try await h.request(.delete, "\(f.path)/members/\(bob.id)", as: ann)
            let after = try await h.request(.get, "\(f.path)/cards/\(f.card)/checklists", as: ann)
            #expect(after["items"][0]["items"][0]["assignee_id"].isNull)
            #expect(after["items"][0]["items"][0]["done"].bool == true)
        }
    }

    @Test("bad input names the field; viewers and strangers change nothing; another card's checklist is not a target")
    func refusals() async throws {
        try await WebTestHarness.withApp { h in
            let ann = try await h.createUser()
            let viewer = try await h.createUser()
            let eve = try await h.createUser()
            let f = try await fixture(h, owner: ann)
            _ = try await h.request(.put, "\(f.path)/members", as: ann, json: ["email": viewer.email, "role": "viewer"])
            let empty = try await h.request(.post, "\(f.path)/cards/\(f.card)/checklists", as: ann, json: ["title": "  "])
            #expect(empty.status == .badRequest)
            #expect(empty.errorField == "title")
            let long = try await h.request(
                .post,
                "\(f.path)/cards/\(f.card)/checklists",
                as: ann,
                json: ["title": "ok", "items": [["text": String(repeating: "x", count: 1_001)]]]
            )
            #expect(long.status == .badRequest)
            #expect(long.errorField == "items[0].text")
            let list = try #require(
                try await h.request(.post, "\(f.path)/cards/\(f.card)/checklists", as: ann, json: ["title": "Tasks"])["checklist"]["id"].int64
            )
            #expect(try await h.request(.post, "\(f.path)/checklists/\(list)/items", as: viewer, json: ["text": "no"]).status == .forbidden)
            #expect(try await h.request(.post, "\(f.path)/checklists/\(list)/items", as: eve, json: ["text": "no"]).status == .notFound)
            #expect(try await h.request(.get, "\(f.path)/cards/\(f.card)/checklists", as: eve).status == .notFound)
            #expect(try await h.request(.get, "\(f.path)/cards/\(f.card)/checklists", as: viewer).status == .ok)

            // An item cannot move to a checklist of another card.
            let column = try #require(try await h.request(.get, "\(f.path)/columns", as: ann)["items"][0]["id"].int64)
            let other = try #require(
                try await h.request(.post, "\(f.path)/cards", as: ann, json: ["column_id": column, "title": "Other"])["card"]["id"].int64
            )
            let elsewhere = try #require(
                try await h.request(.post, "\(f.path)/cards/\(other)/checklists", as: ann, json: ["title": "Theirs"])["checklist"]["id"].int64
            )
            let item = try #require(
                try await h.request(.post, "\(f.path)/checklists/\(list)/items", as: ann, json: ["text": "a"])["item"]["id"].int64
            )
            let crossed = try await h.request(.patch, "\(f.path)/checklist_items/\(item)", as: ann, json: ["checklist_id": elsewhere])
            #expect(crossed.status == .badRequest)
            #expect(crossed.errorField == "checklist_id")

            // Deleting the card deletes its checklists.
            _ = try await h.request(.delete, "\(f.path)/cards/\(f.card)", as: ann)
            let rows = try await h.rows("SELECT count(*)::BIGINT FROM checklist_items WHERE checklist_id = \(list)")
            #expect(try rows.first?.decode(Int64.self) == 0)
        }
    }
}
