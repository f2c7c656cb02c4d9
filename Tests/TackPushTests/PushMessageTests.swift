import Foundation
import NIOCore
import TackCore
import Testing

@testable import TackPush

@Suite("Push protocol messages: client messages, published events, SSE positions")
struct PushMessageTests {
    func refusal(_ text: String) -> ClientMessage.Refusal? {
        do {
            _ = try ClientMessage.parse(Array(text.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test("subscribe and unsubscribe parse; after is optional and null means absent")
    func valid() throws {
        #expect(try ClientMessage.parse(Array(#"{"type":"subscribe","board":42,"after":17}"#.utf8)) == .subscribe(board: 42, after: 17, afterID: nil))
        #expect(try ClientMessage.parse(Array(#"{"type":"subscribe","board":42}"#.utf8)) == .subscribe(board: 42, after: nil, afterID: nil))
        #expect(
            try ClientMessage.parse(Array(#"{"type":"subscribe","board":42,"after":null}"#.utf8)) == .subscribe(board: 42, after: nil, afterID: nil)
        )
        let id = try #require(UUID(uuidString: "0b7e2c1a-4f3d-4d9e-9a55-2f1e7c0d9b12"))
        #expect(
            try ClientMessage.parse(Array(#"{"type":"subscribe","board":42,"after":17,"after_id":"0b7e2c1a-4f3d-4d9e-9a55-2f1e7c0d9b12"}"#.utf8))
                == .subscribe(board: 42, after: 17, afterID: id)
        )
        #expect(try ClientMessage.parse(Array(#"{"type":"unsubscribe","board":7}"#.utf8)) == .unsubscribe(board: 7))
    }

    @Test("bad messages are refused with the code and field a client can act on")
    func refused() {
        let cases: [(String, String, String?)] = [
            ("not json", "malformed_message", nil),
            ("[1,2]", "malformed_message", nil),
            (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "malformed_message", nil),
            (#"{"board":1}"#, "invalid_field", "type"),
            (#"{"type":5,"board":1}"#, "invalid_field", "type"),
            (#"{"type":"dance","board":1}"#, "unknown_type", nil),
            (#"{"type":"subscribe"}"#, "invalid_field", "board"),
            (#"{"type":"subscribe","board":"42"}"#, "invalid_field", "board"),
            (#"{"type":"subscribe","board":0}"#, "invalid_field", "board"),
            (#"{"type":"subscribe","board":1.5}"#, "invalid_field", "board"),
            (#"{"type":"subscribe","board":1,"after":-1}"#, "invalid_field", "after"),
            (#"{"type":"subscribe","board":1,"after":"3"}"#, "invalid_field", "after"),
            (#"{"type":"subscribe","board":1,"colour":"red"}"#, "invalid_field", "colour"),
            (#"{"type":"unsubscribe","board":1,"after":3}"#, "invalid_field", "after"),
            (#"{"type":"subscribe","board":1,"board":2}"#, "malformed_message", nil),
            (#"{"type":"subscribe","board":1,"after":3,"after_id":"nope"}"#, "invalid_field", "after_id"),
            (#"{"type":"subscribe","board":1,"after":3,"after_id":7}"#, "invalid_field", "after_id"),
            (#"{"type":"subscribe","board":1,"after_id":"0b7e2c1a-4f3d-4d9e-9a55-2f1e7c0d9b12"}"#, "invalid_field", "after_id"),
        ]
        for (text, code, field) in cases {
            let error = refusal(text)
            #expect(error?.code == code, "\(text): \(String(describing: error))")
            #expect(error?.field == field, "\(text): \(String(describing: error))")
            #expect(error?.message.isEmpty == false)
        }
    }

    @Test("a published event is read back exactly, and the client message carries the same fields")
    func publishedEvent() throws {
        let event = BoardEvent(
            boardID: 42,
            version: 7,
            id: UUID(uuidString: "0b7e2c1a-4f3d-4d9e-9a55-2f1e7c0d9b12")!,
            kind: "member.removed",
            actorID: 3,
            cardID: nil,
            payload: #"{"user_id":9}"#,
            createdAt: Date(timeIntervalSince1970: 1_764_846_000.123)
        )
        let parsed = try #require(PushEvent(published: Array(event.json.utf8)))
        #expect(parsed.board == 42 && parsed.version == 7 && parsed.removedUser == 9 && parsed.id == event.id)
        #expect(abs(parsed.committedAt - 1_764_846_000.123) < 0.001)
        let message = try StrictJSON.parse(parsed.json.readableBytesView)
        #expect(
            message
                == .object([
                    "type": .string("event"), "board": .integer(42), "version": .integer(7),
                    "id": .string("0b7e2c1a-4f3d-4d9e-9a55-2f1e7c0d9b12"), "kind": .string("member.removed"),
                    "actor": .integer(3), "card": .null, "at": .string("2025-12-04T11:00:00.123Z"), "data": .object(["user_id": .integer(9)]),
                ])
        )
        #expect(PushEvent(published: Array(#"{"presence":42}"#.utf8)) == nil)
        #expect(PushEvent(published: Array("garbage".utf8)) == nil)
    }

    @Test("published times are read in the proleptic Gregorian calendar they are written in")
    func publishedTimesBeforeTheGregorianReform() throws {
        for seconds in [-30_605_126_400.5, -12_220_243_200.0, 1_764_846_000.123] {
            let text = Timestamp.string(from: Date(timeIntervalSince1970: seconds), milliseconds: true)
            #expect(abs(try #require(PushEvent.parseTimestamp(text)).timeIntervalSince1970 - seconds) < 0.0005, "\(text)")
        }
        #expect(PushEvent.parseTimestamp("1000-03-01T00:00:00Z") == nil, "only the shape the publisher writes")
    }

    @Test("Last-Event-ID vectors")
    func positions() {
        #expect(ServerSentEvents.positions("42:17,43:5") == [42: 17, 43: 5])
        #expect(ServerSentEvents.positions(nil) == [:])
        #expect(ServerSentEvents.positions("") == [:])
        #expect(ServerSentEvents.positions("42") == nil)
        #expect(ServerSentEvents.positions("42:-1") == nil)
        #expect(ServerSentEvents.positions("a:1") == nil)
    }

    @Test("the handshake's origin check compares scheme, host and port only")
    func origins() {
        #expect(PushAuthenticator.origin(of: "https://tack.example.com/") == "https://tack.example.com")
        #expect(PushAuthenticator.origin(of: "https://Tack.Example.com:443/boards") == "https://tack.example.com")
        #expect(PushAuthenticator.origin(of: "http://localhost:5000") == "http://localhost:5000")
        #expect(PushAuthenticator.origin(of: "http://localhost:80") == "http://localhost")
        #expect(PushAuthenticator.sessionToken("a=b; tack_session=xyz; c=d") == "xyz")
        #expect(PushAuthenticator.sessionToken("tack_session=") == nil)
        #expect(PushAuthenticator.sessionToken(nil) == nil)
    }
}
