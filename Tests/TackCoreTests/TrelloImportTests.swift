import Foundation
import Testing

@testable import TackCore

/// Reading Trello's JSON export into a plan: order by position, labels named and made unique,
/// texts cut to Tack's limits, and a clear path for every file that cannot be imported.
@Suite("Trello export → board plan")
struct TrelloImportTests {
    func plan(_ json: String) throws(TrelloImportError) -> TrelloBoardPlan {
        try TrelloImport.plan(Array(json.utf8))
    }

    func error(_ json: String) -> TrelloImportError? {
        do {
            _ = try plan(json)
            return nil
        } catch {
            return error
        }
    }

    @Test("lists and cards follow pos (ties by file order); closed lists and cards are archived; due and dueComplete are kept")
    func order() throws {
        let p = try plan(
            """
            {"name": "B", "desc": "d", "lists": [{"id": "l2", "name": "Later", "pos": 2, "closed": true}, {"id": "l1", "name": "Now", "pos": 1}],
             "cards": [{"id": "c1", "idList": "l1", "name": "b", "pos": 20}, {"id": "c2", "idList": "l2", "name": "x", "pos": 1, "closed": true},
                       {"id": "c3", "idList": "l1", "name": "a", "pos": 10.5, "due": "2024-01-02T03:04:05.000Z", "dueComplete": true},
                       {"id": "c4", "idList": "l1", "name": "c", "pos": "bottom"}, {"id": "c5", "idList": "l1", "name": "a2", "pos": 10.5}]}
            """
        )
        #expect(p.columns == [.init(name: "Now", archived: false), .init(name: "Later", archived: true)])
        #expect(p.cards.map(\.title) == ["a", "a2", "b", "c", "x"])
        #expect(p.cards.map(\.column) == [0, 0, 0, 0, 1])
        #expect(p.cards[0].dueAt == ISO8601Parsing.date("2024-01-02T03:04:05Z") && p.cards[0].done)
        #expect(p.cards[4].archived)
    }

    @Test("unnamed labels take their colour's name, duplicates are numbered, unknown colours are grey")
    func labels() throws {
        let p = try plan(
            """
            {"name": "B", "lists": [], "cards": [],
             "labels": [{"id": "a", "name": "", "color": "green"}, {"id": "b", "name": "Bug", "color": "red_dark"},
                        {"id": "c", "name": "bug", "color": null}, {"id": "d", "name": "", "color": "green"}, {"id": "e", "name": "X", "color": "mauve"}]}
            """
        )
        #expect(p.labels.map(\.name) == ["Green", "Bug", "bug 2", "Green 2", "X"])
        #expect(p.labels.map(\.color) == ["#4bce97", "#c9372c", "#b3b9c4", "#4bce97", "#b3b9c4"])
    }

    @Test("checklists and comments go to their cards in order; texts over Tack's limits are cut, empty ones named")
    func checklistsAndComments() throws {
        let long = String(repeating: "é", count: 600)
        let p = try plan(
            """
            {"name": "", "lists": [{"id": "l", "name": ""}], "cards": [{"id": "c", "idList": "l", "name": "\(long)"}],
             "checklists": [{"id": "k2", "idCard": "c", "name": "Two", "pos": 2, "checkItems": [{"name": "z", "state": "complete", "pos": 2},
                                                                                             {"name": "y", "state": "incomplete", "pos": 1}]},
                            {"id": "k1", "idCard": "c", "name": "", "pos": 1}],
             "actions": [{"type": "commentCard", "date": "2024-02-02T00:00:00.000Z", "idMemberCreator": "m",
                          "data": {"text": "second", "card": {"id": "c"}}, "memberCreator": {"fullName": "Ann"}},
                         {"type": "updateCard", "data": {"card": {"id": "c"}}},
                         {"type": "commentCard", "date": "2024-02-01T00:00:00.000Z", "data": {"text": "first", "card": {"id": "c"}}}]}
            """
        )
        #expect(p.name == "Imported from Trello")
        #expect(p.columns[0].name == "Untitled list")
        #expect(p.cards[0].title.count == BoardRules.cardTitleLength && p.cards[0].title.hasSuffix("…"))
        #expect(p.cards[0].checklists.map(\.title) == ["Checklist", "Two"])
        #expect(p.cards[0].checklists[1].items.map(\.text) == ["y", "z"])
        #expect(p.cards[0].checklists[1].items.map(\.done) == [false, true])
        #expect(p.cards[0].comments.map(\.text) == ["first", "second"])
        #expect(p.cards[0].comments[1].authorName == "Ann" && p.cards[0].comments[1].memberID == "m")
        #expect(p.itemCount == 2 && p.commentCount == 2)
    }

    @Test("a file that is not a Trello export is refused with where and why")
    func refusals() {
        #expect(error("[1]")?.message.contains("not a Trello board export") == true)
        #expect(error("{\"name\": \"x\"}")?.message.contains("no lists or no cards") == true)
        #expect(error("{\"name\": \"x\", \"lists\": [], \"cards\": [}")?.message.contains("not valid JSON") == true)
        #expect(error("{\"name\": 1, \"lists\": [], \"cards\": []}") == TrelloImportError(path: "name", message: "must be a string."))
        #expect(error("{\"name\": \"x\", \"lists\": {}, \"cards\": []}")?.path == "lists")
        #expect(
            error(
                "{\"name\": \"x\", \"lists\": [{\"id\": \"l\"}], \"cards\": [{\"id\": \"c\", \"idList\": \"l\"}, {\"id\": \"d\", \"idList\": \"nope\"}]}"
            )?.path
                == "cards[1].idList"
        )
        #expect(
            error("{\"name\": \"x\", \"lists\": [{\"id\": \"l\"}], \"cards\": [{\"id\": \"c\", \"idList\": \"l\", \"due\": \"soon\"}]}")?.path
                == "cards[0].due"
        )
        var limits = TrelloImport.Limits()
        limits.cards = 1
        #expect(throws: TrelloImportError.self) {
            try TrelloImport.plan(
                Array(
                    "{\"name\": \"x\", \"lists\": [{\"id\": \"l\"}], \"cards\": [{\"id\": \"a\", \"idList\": \"l\"}, {\"id\": \"b\", \"idList\": \"l\"}]}"
                        .utf8
                ),
                limits: limits
            )
        }
    }
}
