import Foundation
import Testing

@testable import TackCore

@Suite("JSON keys")
struct JSONKeysTests {
    /// A type with the shapes of names Tack's types use: ids, acronyms, digits, one word.
    struct Shapes: Encodable {
        var id = 0
        var boardID = 0
        var csrfToken = 0
        var isAdmin = 0
        var latencyMS = 0
        var htmlURLValue = 0
        var v2Name = 0
        var wipLimit = 0
        var addAssignees = 0
        var expectedVersion = 0
        var unreadCount = 0
        var a1B = 0
    }

    @Test("the body reader's snake_case names are exactly the ones the encoders write, for every shape of name")
    func snakeCaseMatchesTheEncoders() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = JSONKeys.encoding
        let written = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(Shapes())) as? [String: Any])
        let names = [
            "id", "boardID", "csrfToken", "isAdmin", "latencyMS", "htmlURLValue", "v2Name", "wipLimit", "addAssignees", "expectedVersion",
            "unreadCount", "a1B",
        ]
        #expect(Set(written.keys) == Set(names.map(JSONKeys.snakeCase)))
        #expect(JSONKeys.snakeCase("boardID") == "board_id")
        #expect(JSONKeys.snakeCase("latencyMS") == "latency_ms")
        #expect(JSONKeys.snakeCase("htmlURLValue") == "html_url_value")
    }

    @Test("models answer snake_case keys and leave dictionary keys (data) alone")
    func modelsAndDictionaries() throws {
        let card = Card(
            id: 1,
            boardID: 2,
            columnID: 3,
            title: "t",
            description: "",
            position: "a",
            dueAt: nil,
            done: false,
            archived: false,
            assignees: [],
            labels: [],
            createdBy: 4,
            createdAt: Date(timeIntervalSince1970: 0),
            updatedAt: Date(timeIntervalSince1970: 0),
            version: 5
        )
        let payload = BoardEventDraft(kind: "card.created", cardID: 1, payload: card).payload
        for key in ["\"board_id\":2", "\"column_id\":3", "\"created_by\":4", "\"updated_at\":"] {
            #expect(payload.contains(key), "\(payload)")
        }
        #expect(!payload.contains("boardID"))
        let data = BoardEventDraft(kind: "x", payload: ["someKey": 1]).payload
        #expect(data == "{\"someKey\":1}")
    }
}
