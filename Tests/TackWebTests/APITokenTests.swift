import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Personal API tokens")
struct APITokenTests {
    @Test("a token is shown once, stored only as its SHA-256, listed without the secret, and works as Bearer")
    func createListUse() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let created = try await h.request(
                .post,
                "/api/v1/me/tokens",
                as: user,
                via: .session,
                json: ["name": " deploy script ", "scope": "read_write"]
            )
            #expect(created.status == .created)
            #expect(created.headers[.cacheControl] == "no-store")
            let secret = try #require(created["token"].string)
            #expect(secret.hasPrefix("tack_pat_"))
            #expect(secret.count == "tack_pat_".count + 43)
            #expect(created["name"].string == "deploy script")
            #expect(created["scope"].string == "read_write")
            let id = try #require(created["id"].int64)

            // At rest: the digest only; no column anywhere holds the secret.
            let digest = try await h.rows("SELECT token_hash FROM api_tokens WHERE id = \(id)").first!.decode(Data.self)
            #expect(digest == Data(SHA256.hash(data: Data(secret.utf8))))
            let dump = try await h.rows(
                "SELECT concat_ws('|', id, name, scope, encode(token_hash, 'escape'), encode(token_hash, 'hex')) FROM api_tokens"
            )
            for row in dump { #expect(!(try row.decode(String.self)).contains(secret.dropFirst(9))) }

            let list = try await h.request(.get, "/api/v1/me/tokens", as: user, via: .session)
            #expect(list.status == .ok)
            let tokens = try #require(list["tokens"].array)
            #expect(tokens.count == 3, "the harness's two tokens and the new one")
            let listed = try #require(tokens.first { $0["id"].int64 == id })
            #expect(listed["token"].isNull, "the secret is shown only once")
            #expect(listed["name"].string == "deploy script")
            #expect(listed["last_used_at"].isNull)
            #expect(!list.body.contains(secret))

            let me = try await h.request(.get, "/api/v1/me", headers: [.authorization: "Bearer " + secret])
            #expect(me.status == .ok)
            #expect(me["user"]["id"].int64 == user.id)
            #expect(me["authenticated_by"].string == "token")
            let used = try await h.rows("SELECT last_used_at IS NOT NULL FROM api_tokens WHERE id = \(id)").first!.decode(Bool.self)
            #expect(used, "the use is recorded")
        }
    }

    @Test("session hashes at rest: the sessions table holds the cookie token's SHA-256, never the token")
    func sessionTokensHashed() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let digest = try await h.rows("SELECT token_hash FROM sessions WHERE id = \(user.session.id)").first!.decode(Data.self)
            #expect(digest == Data(SHA256.hash(data: Data(user.session.token.utf8))))
        }
    }

    @Test("a revoked token is refused with 401; only its owner can revoke it")
    func revoke() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let stranger = try await h.createUser()
            let other = try await h.request(.delete, "/api/v1/me/tokens/\(user.bearerTokenID)", as: stranger, via: .bearer)
            #expect(other.status == .notFound)
            #expect(other.errorCode == "token_not_found")
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .bearer).status == .ok)

            let revoked = try await h.request(.delete, "/api/v1/me/tokens/\(user.bearerTokenID)", as: user, via: .session)
            #expect(revoked.status == .noContent)
            let refused = try await h.request(.get, "/api/v1/me", as: user, via: .bearer)
            #expect(refused.status == .unauthorized)
            #expect(refused.errorCode == "unauthenticated")
            #expect(try await h.request(.delete, "/api/v1/me/tokens/\(user.bearerTokenID)", as: user, via: .session).status == .notFound)
            #expect(try await h.request(.delete, "/api/v1/me/tokens/not-a-number", as: user, via: .session).status == .notFound)
            let list = try await h.request(.get, "/api/v1/me/tokens", as: user, via: .session)
            #expect(list["tokens"].array?.count == 1, "revoked tokens leave the list")

            // A read_write token may revoke (it is a write), including itself.
            let own = try await h.request(.delete, "/api/v1/me/tokens/\(stranger.bearerTokenID)", as: stranger, via: .bearer)
            #expect(own.status == .noContent)
            #expect(try await h.request(.get, "/api/v1/me", as: stranger, via: .bearer).status == .unauthorized)
        }
    }

    @Test("a read token reads but every write is 403 insufficient_scope")
    func readScope() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .readOnly).status == .ok)
            #expect(try await h.request(.get, "/api/v1/me/tokens", as: user, via: .readOnly).status == .ok)
            let writes: [(HTTPRequest.Method, String, [String: Any]?)] = [
                (.post, "/api/v1/me/tokens", ["name": "x", "scope": "read"]),
                (.delete, "/api/v1/me/tokens/\(user.readOnlyTokenID)", nil),
                (.put, "/api/v1/me/password", ["current_password": user.password, "new_password": "whatever new passphrase"]),
                (.post, "/api/v1/auth/logout_all", nil),
            ]
            for (method, path, json) in writes {
                let reply = try await h.request(method, path, as: user, via: .readOnly, json: json)
                #expect(reply.status == .forbidden, "\(method) \(path)")
                #expect(reply.errorCode == "insufficient_scope", "\(method) \(path)")
            }
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .readOnly).status == .ok, "the token was not revoked by itself")
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .session).status == .ok, "no session ended")
        }
    }

    @Test("tokens are made from a session, with a valid name and scope")
    func createRules() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let byToken = try await h.request(.post, "/api/v1/me/tokens", as: user, via: .bearer, json: ["name": "x", "scope": "read"])
            #expect(byToken.status == .forbidden)
            #expect(byToken.errorCode == "session_required")
            let scope = try await h.request(.post, "/api/v1/me/tokens", as: user, via: .session, json: ["name": "x", "scope": "admin"])
            #expect(scope.status == .badRequest)
            #expect(scope.errorField == "scope")
            let name = try await h.request(.post, "/api/v1/me/tokens", as: user, via: .session, json: ["name": "  ", "scope": "read"])
            #expect(name.errorField == "name")
            let long = try await h.request(
                .post,
                "/api/v1/me/tokens",
                as: user,
                via: .session,
                json: ["name": String(repeating: "n", count: 101), "scope": "read"]
            )
            #expect(long.errorField == "name")
            let count = try await h.rows("SELECT count(*) FROM api_tokens WHERE user_id = \(user.id)").first!.decode(Int.self)
            #expect(count == 2, "nothing stored")
        }
    }

    @Test("malformed, unknown and non-Bearer credentials are 401, never 500")
    func junkCredentials() async throws {
        try await WebTestHarness.withApp { h in
            for value in [
                "Bearer", "Bearer ", "Bearer tack_pat_short", "Bearer tack_pat_" + String(repeating: "A", count: 43),
                "Bearer " + String(repeating: "z", count: 5000), "Basic dXNlcjpwYXNz", "tack_pat_abc",
            ] {
                let reply = try await h.request(.get, "/api/v1/me", headers: [.authorization: value])
                #expect(reply.status == .unauthorized, "\(value.prefix(30))")
            }
            for cookie in ["tack_session=", "tack_session=garbage", "tack_session=" + String(repeating: "A", count: 43)] {
                let reply = try await h.request(.get, "/api/v1/me", headers: [.cookie: cookie])
                #expect(reply.status == .unauthorized, "\(cookie)")
            }
        }
    }
}
