import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Sessions, CSRF, cookies and security headers")
struct SessionSecurityTests {
    @Test("an expired session is refused and its cookie cleared")
    func expiry() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            _ = try await h.rows("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = \(user.session.id)")
            let reply = try await h.request(.get, "/api/v1/me", as: user, via: .session)
            #expect(reply.status == .unauthorized)
            #expect(reply.sessionCookieAttribute("Max-Age") == "0", "the browser is told to drop the dead cookie")
            #expect(try await h.request(.post, "/api/v1/auth/logout", as: user, via: .session).status == .unauthorized)
        }
    }

    @Test("sliding expiry: a session used after a minute lives session_ttl again, with a fresh cookie; not more often")
    func slidingRenewal() async throws {
        try await WebTestHarness.withApp(settings: ["web.session_ttl": "7200"]) { h in
            let user = try await h.createUser()
            // Fresh: used within the minute, nothing is written and no cookie is sent.
            let first = try await h.request(.get, "/api/v1/me", as: user, via: .session)
            #expect(first.status == .ok)
            #expect(first.sessionCookie == nil)

            // Last extended two minutes ago, with ten minutes left.
            _ = try await h.rows(
                """
                UPDATE sessions SET last_seen_at = now() - interval '2 minutes', expires_at = now() + interval '10 minutes'
                WHERE id = \(user.session.id)
                """
            )
            let renewed = try await h.request(.get, "/api/v1/me", as: user, via: .session)
            #expect(renewed.status == .ok)
            let maxAge = try #require(renewed.sessionCookieAttribute("Max-Age").flatMap { Int($0) })
            #expect((7100...7200).contains(maxAge), "the cookie follows the extended session")
            #expect(renewed.sessionCookie?.hasPrefix("tack_session=\(user.session.token);") == true, "same token, longer life")
            let left = try await h.rows(
                "SELECT extract(epoch FROM expires_at - now())::float8, extract(epoch FROM now() - last_seen_at)::float8 FROM sessions WHERE id = \(user.session.id)"
            )
            .first!.decode((Double, Double).self)
            #expect(left.0 > 7100 && left.0 <= 7200)
            #expect(left.1 < 5)

            // Right after a renewal: no second write.
            let stamp = try await h.rows("SELECT last_seen_at FROM sessions WHERE id = \(user.session.id)").first!.decode(Date.self)
            let again = try await h.request(.get, "/api/v1/me", as: user, via: .session)
            #expect(again.sessionCookie == nil)
            let after = try await h.rows("SELECT last_seen_at FROM sessions WHERE id = \(user.session.id)").first!.decode(Date.self)
            #expect(after == stamp)
        }
    }

    @Test("the login cookie lives session_ttl")
    func cookieLifetime() async throws {
        try await WebTestHarness.withApp(settings: ["web.session_ttl": "600"]) { h in
            let user = try await h.createUser()
            let login = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            let maxAge = try #require(login.sessionCookieAttribute("Max-Age").flatMap { Int($0) })
            #expect((590...600).contains(maxAge))
            let left = try await h.rows("SELECT extract(epoch FROM max(expires_at) - now())::float8 FROM sessions WHERE user_id = \(user.id)").first!
                .decode(Double.self)
            #expect(left > 590 && left <= 600)
        }
    }

    @Test("cookies: HttpOnly, SameSite=Lax, Path=/, not Secure over http")
    func cookieAttributesHTTP() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let login = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            #expect(login.sessionCookieAttribute("HttpOnly") == "")
            #expect(login.sessionCookieAttribute("SameSite") == "Lax")
            #expect(login.sessionCookieAttribute("Path") == "/")
            #expect(login.sessionCookieAttribute("Secure") == nil)
            #expect(login.sessionCookieAttribute("Domain") == nil, "host-only")
        }
    }

    @Test("cookies are Secure when base_url is https, on login, renewal and logout")
    func cookieAttributesHTTPS() async throws {
        try await WebTestHarness.withApp(settings: ["web.base_url": "https://tack.example"]) { h in
            let user = try await h.createUser()
            let login = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            #expect(login.sessionCookieAttribute("Secure") == "")
            #expect(login.sessionCookieAttribute("HttpOnly") == "")
            #expect(login.sessionCookieAttribute("SameSite") == "Lax")
            _ = try await h.rows("UPDATE sessions SET last_seen_at = now() - interval '2 minutes' WHERE id = \(user.session.id)")
            let renewed = try await h.request(.get, "/api/v1/me", as: user, via: .session)
            #expect(renewed.sessionCookieAttribute("Secure") == "")
            let out = try await h.request(.post, "/api/v1/auth/logout", as: user, via: .session)
            #expect(out.sessionCookieAttribute("Secure") == "")
        }
    }

    @Test("CSRF: cookie writes need X-CSRF-Token; missing or wrong is 403 and changes nothing; reads and tokens are exempt")
    func csrf() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let victim = try await h.createUser()
            let missing = try await h.request(.post, "/api/v1/auth/logout_all", as: user, via: .sessionWithoutCSRF)
            #expect(missing.status == .forbidden)
            #expect(missing.errorCode == "csrf_failed")
            let wrong = try await h.request(
                .post,
                "/api/v1/auth/logout_all",
                session: user.session,
                csrf: false,
                body: nil,
                headers: [CSRFToken.header: victim.session.csrfToken]
            )
            #expect(wrong.status == .forbidden, "another session's token does not fit")
            #expect(wrong.errorCode == "csrf_failed")
            let garbage = try await h.request(
                .post,
                "/api/v1/auth/logout_all",
                session: user.session,
                csrf: false,
                body: nil,
                headers: [CSRFToken.header: String(user.session.csrfToken.dropLast()) + (user.session.csrfToken.hasSuffix("0") ? "1" : "0")]
            )
            #expect(garbage.status == .forbidden)
            let create = try await h.request(.post, "/api/v1/me/tokens", as: user, via: .sessionWithoutCSRF, json: ["name": "x", "scope": "read"])
            #expect(create.status == .forbidden)
            let count = try await h.rows("SELECT count(*) FROM sessions WHERE user_id = \(user.id)").first!.decode(Int.self)
            #expect(count == 1, "refused writes changed nothing")
            #expect(try await h.rows("SELECT count(*) FROM api_tokens WHERE user_id = \(user.id)").first!.decode(Int.self) == 2)

            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .sessionWithoutCSRF).status == .ok, "reads need no token")
            let byToken = try await h.request(.delete, "/api/v1/me/tokens/\(user.readOnlyTokenID)", as: user, via: .bearer)
            #expect(byToken.status == .noContent, "a Bearer token needs no CSRF token")
            let right = try await h.request(.post, "/api/v1/auth/logout_all", as: user, via: .session)
            #expect(right.status == .noContent)
        }
    }

    @Test("login and sign-up work from a browser holding a session but no CSRF token")
    func loginWithStaleSession() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let login = try await h.request(
                .post,
                "/api/v1/auth/login",
                session: user.session,
                csrf: false,
                json: ["email": user.email, "password": user.password]
            )
            #expect(login.status == .ok)
        }
    }

    @Test("every response carries the security headers, errors included")
    func securityHeaders() async throws {
        try await WebTestHarness.withApp(settings: ["web.login_max_attempts": "1"]) { h in
            let user = try await h.createUser()
            var replies: [(String, TestReply)] = []
            replies.append(("200", try await h.request(.get, "/healthz")))
            replies.append(("200 me", try await h.request(.get, "/api/v1/me", as: user)))
            replies.append(("201", try await h.request(.post, "/api/v1/me/tokens", as: user, via: .session, json: ["name": "x", "scope": "read"])))
            replies.append(("204", try await h.request(.delete, "/api/v1/me/tokens/\(user.readOnlyTokenID)", as: user)))
            replies.append(("400", try await h.request(.post, "/api/v1/auth/login", body: "{")))
            replies.append(("401", try await h.request(.get, "/api/v1/me")))
            replies.append(("403", try await h.request(.post, "/api/v1/auth/logout", as: user, via: .sessionWithoutCSRF)))
            replies.append(("404", try await h.request(.get, "/api/v1/nothing-here")))
            replies.append(("405 method", try await h.request(.delete, "/api/v1/me")))
            replies.append(
                ("413", try await h.request(.post, "/api/v1/auth/login", body: String(repeating: " ", count: TackRequestContext.maximumBodySize + 1)))
            )
            replies.append(
                (
                    "415",
                    try await h.request(.post, "/api/v1/auth/login", body: "email=x", headers: [.contentType: "application/x-www-form-urlencoded"])
                )
            )
            _ = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": "wrong wrong wrong"])
            replies.append(("429", try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": "wrong wrong wrong"])))
            for (what, reply) in replies {
                #expect(reply.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(what)")
                #expect(reply.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true, "\(what)")
                #expect(reply.headers[.xContentTypeOptions] == "nosniff", "\(what)")
                #expect(reply.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin", "\(what)")
                #expect(reply.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(what)")
            }
            #expect(replies.map { Int($0.1.status.code) } == [200, 200, 201, 204, 400, 401, 403, 404, 405, 413, 415, 429])
        }
    }
}
