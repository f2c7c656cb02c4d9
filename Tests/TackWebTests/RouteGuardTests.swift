import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import TackWeb

@Suite("Paths: control characters refused, unknown routes and wrong methods answered as JSON errors (F7, F8)")
struct RouteGuardTests {
    @Test("a NUL or other control character in a path is 400, also in /assets/ (no truncated file name)")
    func controlCharacters() async throws {
        try await WebTestHarness.withApp { h in
            for path in ["/assets/app.css%00.js", "/assets/app.js%00.html", "/api/v1/boards%0a", "/login%7F", "/api/v1/me%1f"] {
                let reply = try await h.request(.get, path, body: nil)
                #expect(reply.status == .badRequest, "\(path): \(reply.status)")
                #expect(reply.errorCode == "invalid_path", "\(path): \(reply.body)")
            }
            #expect(RouteGuardMiddleware<TackRequestContext>.hasControlCharacter("/a%2Fb%20c") == false)
            #expect(RouteGuardMiddleware<TackRequestContext>.hasControlCharacter("/a%00") == true)
        }
    }

    @Test("a wrong method on a known path is 405 with Allow; an unknown path is a JSON 404")
    func methodsAndMissingRoutes() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.delete, "/api/v1/me", "GET"),
                (.patch, "/api/v1/boards", "GET, POST"),
                (.put, "/api/v1/boards/1/cards/2", "DELETE, GET, PATCH"),
            ]
            for (method, path, allow) in cases {
                let reply = try await h.request(method, path, as: user, body: nil)
                #expect(reply.status == .methodNotAllowed, "\(method) \(path): \(reply.status)")
                #expect(reply.errorCode == "method_not_allowed", "\(method) \(path): \(reply.body)")
                #expect(reply.headers[.allow] == allow, "\(method) \(path): Allow \(reply.headers[.allow] ?? "none")")
            }
            for path in ["/api/v1/nope", "/api/v1/boards/x/y/z"] {
                let reply = try await h.request(.get, path, as: user, body: nil)
                #expect(reply.status == .notFound, "\(path): \(reply.status)")
                #expect(reply.errorCode == "not_found", "\(path): \(reply.body)")
            }
            // A known route that answers 404 for a missing object is still a 404.
            let missing = try await h.request(.get, "/api/v1/boards/999999", as: user, body: nil)
            #expect(missing.status == .notFound)
        }
    }
}
