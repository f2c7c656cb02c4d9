import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOEmbedded
import PostgresNIO
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Validation of account requests and the strict JSON body decoder")
struct ValidationTests {
    static var good: [String: Any] { ["email": "valid@example.com", "name": "Valid Name", "password": "a long and unusual passphrase"] }

    static func with(_ changes: [String: Any?]) -> [String: Any] {
        var body = good
        for (key, value) in changes { body[key] = value }
        return body
    }

    @Test("sign-up: missing, wrong type, null, unknown, too long, too short, weak, malformed → 4xx naming the field; nothing stored")
    func signupValidation() async throws {
        try await WebTestHarness.withApp { h in
            let cases: [(String, [String: Any], String)] = [
                ("missing email", Self.with(["email": nil]), "email"),
                ("missing name", Self.with(["name": nil]), "name"),
                ("missing password", Self.with(["password": nil]), "password"),
                ("name is a number", Self.with(["name": 5]), "name"),
                ("email is an array", Self.with(["email": ["a@b.co"]]), "email"),
                ("password is null", Self.with(["password": NSNull()]), "password"),
                ("password is true", Self.with(["password": true]), "password"),
                ("unknown field", Self.with(["nickname": "adi"]), "nickname"),
                ("unknown null field", Self.with(["is_admin": NSNull()]), "is_admin"),
                ("sign-up cannot make an admin", Self.with(["is_admin": true]), "is_admin"),
                ("email without @", Self.with(["email": "valid.example.com"]), "email"),
                ("email without domain dot", Self.with(["email": "valid@localhost"]), "email"),
                ("email with space", Self.with(["email": "va lid@example.com"]), "email"),
                ("email too long", Self.with(["email": String(repeating: "a", count: 250) + "@example.com"]), "email"),
                ("empty name", Self.with(["name": "   "]), "name"),
                ("name too long", Self.with(["name": String(repeating: "n", count: 101)]), "name"),
                ("name with control character", Self.with(["name": "Bob\u{7}"]), "name"),
                ("name with NUL", Self.with(["name": "Bob\u{0}by"]), "name"),
                ("password too short", Self.with(["password": "nine char"]), "password"),
                (
                    "password too long", Self.with(["password": String(repeating: "p", count: 150) + String(repeating: "q", count: 51) + "xyz"]),
                    "password"
                ),
                ("common password", Self.with(["password": "password123"]), "password"),
                ("repetitive password", Self.with(["password": "abababababab"]), "password"),
                ("password is the email", Self.with(["password": "valid@example.com"]), "password"),
                ("password is the name", Self.with(["password": "Valid Name"]), "password"),
            ]
            for (what, body, field) in cases {
                let reply = try await h.request(.post, "/api/v1/auth/signup", json: body)
                #expect(reply.status == .badRequest, "\(what): \(reply.status) \(reply.body)")
                #expect(reply.errorCode == "invalid_field", "\(what)")
                #expect(reply.errorField == field, "\(what): \(reply.body)")
                #expect(reply["error"]["message"].string?.isEmpty == false, "\(what)")
                #expect(reply.sessionCookie == nil, "\(what)")
            }
            let bodies: [(String, String, HTTPResponse.Status, String)] = [
                ("invalid JSON", "{\"email\": ", .badRequest, "malformed_body"),
                ("an array", "[1, 2]", .badRequest, "malformed_body"),
                ("a string", "\"hello\"", .badRequest, "malformed_body"),
                ("null", "null", .badRequest, "malformed_body"),
                (
                    "oversized", "{\"name\": \"" + String(repeating: "x", count: TackRequestContext.maximumBodySize) + "\"}", .contentTooLarge,
                    "body_too_large"
                ),
            ]
            for (what, body, status, code) in bodies {
                let reply = try await h.request(.post, "/api/v1/auth/signup", body: body)
                #expect(reply.status == status, "\(what)")
                #expect(reply.errorCode == code, "\(what)")
            }
            let empty = try await h.request(.post, "/api/v1/auth/signup", body: "")
            #expect(empty.status == .badRequest)
            #expect(empty.errorField == "email", "an empty body names the first required field")
            let form = try await h.request(.post, "/api/v1/auth/signup", body: "email=a", headers: [.contentType: "text/plain"])
            #expect(form.status == .unsupportedMediaType)

            let stored = try await h.rows("SELECT count(*) FROM users").first!.decode(Int.self)
            #expect(stored == 0, "nothing was stored")
            let sessions = try await h.rows("SELECT count(*) FROM sessions").first!.decode(Int.self)
            #expect(sessions == 0)

            // The same body, corrected, goes through: the cases above failed for their one fault.
            #expect(try await h.request(.post, "/api/v1/auth/signup", json: Self.good).status == .created)
        }
    }

    /// A context with a small body limit, for streaming tests.
    struct SmallContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
        var maxUploadSize: Int { 100 }
    }

    @Test("a streamed body larger than the limit is 413 even without Content-Length")
    func streamedOversize() async throws {
        let context = SmallContext(source: .init(channel: EmbeddedChannel(), logger: WebTestHarness.defaultLogger))
        func request(_ chunks: [String]) -> Request {
            let stream = AsyncStream<ByteBuffer> { continuation in
                for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
                continuation.finish()
            }
            return Request(
                head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/"),
                body: .init(asyncSequence: stream)
            )
        }
        let big = request(["{\"a\": \"", String(repeating: "x", count: 60), String(repeating: "x", count: 60), "\"}"])
        do {
            _ = try await JSONBody.decode([String: String].self, from: big, context: context)
            Issue.record("an oversized body was accepted")
        } catch let error as APIError {
            #expect(error.status == .contentTooLarge)
            #expect(error.code == "body_too_large")
        }
        let small = try await JSONBody.decode([String: String].self, from: request(["{\"a\": ", "\"b\"}"]), context: context)
        #expect(small == ["a": "b"])
    }

    @Test("login and other bodies name their fields too")
    func otherBodies() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let login = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password, "remember": true])
            #expect(login.errorField == "remember")
            let missing = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email])
            #expect(missing.errorField == "password")
            let pw = try await h.request(
                .put,
                "/api/v1/me/password",
                as: user,
                json: ["current_password": user.password, "new_password": 1_234_567_890]
            )
            #expect(pw.errorField == "new_password")
            let token = try await h.request(.post, "/api/v1/me/tokens", as: user, via: .session, json: ["name": "x", "scope": "read", "expires": 3])
            #expect(token.errorField == "expires")
            let admin = try await h.createUser(admin: true)
            let flag = try await h.request(
                .post,
                "/api/v1/users",
                as: admin,
                json: ["email": WebTestHarness.uniqueEmail(), "name": "N", "password": "a long and unusual passphrase", "is_admin": "yes"]
            )
            #expect(flag.errorField == "is_admin")
        }
    }

    @Test("hostile bodies on the anonymous endpoints: deep nesting, too many values, duplicates, other charsets (F1, F6)")
    func hostileBodies() async throws {
        try await WebTestHarness.withApp { h in
            let cases: [(String, String, String)] = [
                (
                    "nested 512 deep", String(repeating: #"{"a":"#, count: 512) + "1" + String(repeating: "}", count: 512),
                    "nested deeper than 32 levels"
                ),
                (
                    "a nested field", #"{"email":"# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}",
                    "nested deeper than 32 levels"
                ),
                (
                    "half a million values", #"{"email":["# + Array(repeating: "0", count: 500_000).joined(separator: ",") + "]}",
                    "more than 10000 values"
                ),
                ("duplicate key", #"{"email":"a@example.com","email":"b@example.com","password":"x"}"#, #"duplicate key "email""#),
                ("trailing comma", #"{"email":"a@example.com","password":"x",}"#, "expected a key in double quotes"),
            ]
            for (what, body, reason) in cases {
                let reply = try await h.request(.post, "/api/v1/auth/login", body: body)
                #expect(reply.status == .badRequest, "\(what): \(reply.status)")
                #expect(reply.errorCode == "malformed_body", "\(what): \(reply.body.prefix(200))")
                #expect(reply["error"]["message"].string?.contains(reason) == true, "\(what): \(reply.body.prefix(200))")
            }
            // Longer than any account's email or password: refused before the throttle and bcrypt.
            let longEmail = try await h.request(
                .post,
                "/api/v1/auth/login",
                json: ["email": String(repeating: "x", count: 100_000), "password": "a long and unusual passphrase"]
            )
            #expect(longEmail.status == .badRequest && longEmail.errorField == "email", "\(longEmail.status)")
            let longPassword = try await h.request(
                .post,
                "/api/v1/auth/login",
                json: ["email": "nobody@example.com", "password": String(repeating: "x", count: 100_000)]
            )
            #expect(longPassword.status == .badRequest && longPassword.errorField == "password", "\(longPassword.status)")
            let good = #"{"email":"nobody@example.com","password":"a long and unusual passphrase"}"#
            for type in ["application/json; charset=iso-8859-1", "application/json; charset=utf-16", "text/json"] {
                let reply = try await h.request(.post, "/api/v1/auth/login", body: good, headers: [.contentType: type])
                #expect(reply.status == .unsupportedMediaType, "\(type): \(reply.status)")
            }
            for type in ["application/json; charset=utf-8", "application/json; charset=\"UTF-8\"", "application/json"] {
                let reply = try await h.request(.post, "/api/v1/auth/login", body: good, headers: [.contentType: type])
                #expect(reply.status == .unauthorized, "\(type) is JSON: \(reply.status) \(reply.body)")
            }
        }
    }

    // MARK: - The decoder itself

    struct Item: Decodable, Equatable {
        var title: String
        var count: Int?
    }

    struct Nested: Decodable, Equatable {
        var name: String
        var items: [Item]
        var tags: [String: String]?
        var due: Date?
        var ratio: Double?
    }

    /// A PATCH body that tells "absent" from "null".
    struct Patch: Decodable {
        var dueAt: Date??
        enum CodingKeys: String, CodingKey { case dueAt = "due_at" }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if c.contains(.dueAt) {
                dueAt = try c.decodeNil(forKey: .dueAt) ? .some(nil) : .some(try c.decode(Date.self, forKey: .dueAt))
            } else {
                dueAt = nil
            }
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONBody.decode(type, from: Data(json.utf8))
    }

    static func field(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as APIError { return error.field ?? error.code } catch { return "\(error)" }
    }

    @Test("nested objects and arrays: values decode, unknown keys are named with their path")
    func nested() throws {
        let value = try Self.decode(
            Nested.self,
            #"{"name": "n", "items": [{"title": "a"}, {"title": "b", "count": 2}], "tags": {"x": "1", "anything": "2"}, "due": "2025-01-31T17:00:00Z", "ratio": 1}"#
        )
        #expect(value.items == [Item(title: "a", count: nil), Item(title: "b", count: 2)])
        #expect(value.tags == ["x": "1", "anything": "2"], "dictionaries take any key")
        #expect(value.due == Date(timeIntervalSince1970: 1_738_342_800))
        #expect(value.ratio == 1.0)
        #expect(
            Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": [{"title": "a"}, {"title": "b", "colour": 1}]}"#) }
                == "items[1].colour"
        )
        #expect(Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": [{"title": 5}]}"#) } == "items[0].title")
        #expect(Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": [{}]}"#) } == "items[0].title")
        #expect(Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": [], "due": "tomorrow"}"#) } == "due")
        #expect(Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": [{"title": "a", "count": 1.5}]}"#) } == "items[0].count")
        #expect(Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": [{"title": "a", "count": 1e30}]}"#) } == "items[0].count")
        #expect(Self.field { _ = try Self.decode(Nested.self, #"{"name": "n", "items": {}}"#) } == "items")
        let fractional = try Self.decode(Nested.self, #"{"name": "n", "items": [], "due": "2025-01-31T17:00:00.250Z"}"#)
        #expect(fractional.due == Date(timeIntervalSince1970: 1_738_342_800.25))
    }

    @Test("absent and null can be told apart; optionals accept null")
    func absentOrNull() throws {
        #expect(try Self.decode(Patch.self, "{}").dueAt == nil)
        #expect(try Self.decode(Patch.self, #"{"due_at": null}"#).dueAt == .some(nil))
        #expect(try Self.decode(Patch.self, #"{"due_at": "2025-01-31T17:00:00Z"}"#).dueAt == .some(Date(timeIntervalSince1970: 1_738_342_800)))
        #expect(try Self.decode(Item.self, #"{"title": "a", "count": null}"#).count == nil)
        #expect(Self.field { _ = try Self.decode(Item.self, #"{"title": null}"#) } == "title")
    }

    @Test("booleans and numbers are not interchangeable, nor numbers and strings")
    func strictTypes() throws {
        struct Flags: Decodable {
            var on: Bool
            var n: Int
        }
        #expect(Self.field { _ = try Self.decode(Flags.self, #"{"on": 1, "n": 1}"#) } == "on")
        #expect(Self.field { _ = try Self.decode(Flags.self, #"{"on": true, "n": true}"#) } == "n")
        #expect(Self.field { _ = try Self.decode(Flags.self, #"{"on": true, "n": "1"}"#) } == "n")
        #expect(try Self.decode(Flags.self, #"{"on": false, "n": -3}"#).n == -3)
    }
}
