import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import TackTestSupport
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Accounts: sign-up, login, logout, profile, password")
struct AccountTests {
    static let password = "a long and unusual passphrase"

    @Test("sign-up creates the account, logs in with a cookie and answers the CSRF token")
    func signup() async throws {
        try await WebTestHarness.withApp { h in
            let ada = WebTestHarness.uniqueEmail("ada")
            let reply = try await h.request(
                .post,
                "/api/v1/auth/signup",
                json: ["email": "  " + ada.uppercased() + " ", "name": " Ada Lovelace ", "password": Self.password]
            )
            #expect(reply.status == .created)
            #expect(reply["user"]["email"].string == ada, "emails are trimmed and lower-cased")
            #expect(reply["user"]["name"].string == "Ada Lovelace")
            #expect(reply["user"]["is_admin"].bool == false)
            #expect(reply["user"]["id"].int != nil)
            #expect(reply["user"]["created_at"].string != nil)
            #expect(reply["user"]["password_hash"].isNull)
            let csrf = try #require(reply["csrf_token"].string)
            #expect(csrf.count == 64 && csrf.allSatisfy(\.isHexDigit))
            #expect(reply.headers[.cacheControl] == "no-store")
            let session = try #require(reply.session)

            let me = try await h.request(.get, "/api/v1/me", session: session)
            #expect(me.status == .ok)
            #expect(me["user"]["email"].string == ada)
            #expect(me["authenticated_by"].string == "session")
            #expect(me["csrf_token"].string == csrf, "the page can fetch the CSRF token again after a reload")

            // The same address in other letters is the same account.
            let again = try await h.request(
                .post,
                "/api/v1/auth/signup",
                json: ["email": ada.capitalized, "name": "Imposter", "password": Self.password]
            )
            #expect(again.status == .conflict)
            #expect(again.errorCode == "email_taken")
            #expect(again.errorField == "email")
            let count = try await h.rows("SELECT count(*) FROM users").first!.decode(Int.self)
            #expect(count == 1)
        }
    }

    @Test("invite-only: sign-up is closed, administrators create accounts with POST /users")
    func inviteOnly() async throws {
        try await WebTestHarness.withApp(settings: ["web.signup": "invite"]) { h in
            let closed = try await h.request(
                .post,
                "/api/v1/auth/signup",
                json: ["email": "bob@example.com", "name": "Bob", "password": Self.password]
            )
            #expect(closed.status == .forbidden)
            #expect(closed.errorCode == "signup_closed")
            #expect(try await h.rows("SELECT id FROM users").isEmpty)

            let admin = try await h.createUser(admin: true)
            let member = try await h.createUser()
            let refused = try await h.request(
                .post,
                "/api/v1/users",
                as: member,
                json: ["email": "bob@example.com", "name": "Bob", "password": Self.password]
            )
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "forbidden")
            let anonymous = try await h.request(.post, "/api/v1/users", json: ["email": "bob@example.com", "name": "Bob", "password": Self.password])
            #expect(anonymous.status == .unauthorized)

            let created = try await h.request(
                .post,
                "/api/v1/users",
                as: admin,
                via: .session,
                json: ["email": "Bob@Example.com", "name": "Bob", "password": Self.password, "is_admin": false]
            )
            #expect(created.status == .created)
            #expect(created["user"]["email"].string == "bob@example.com")
            #expect(created.sessionCookie == nil, "creating an account for someone else does not log the admin out")

            let login = try await h.request(.post, "/api/v1/auth/login", json: ["email": "bob@example.com", "password": Self.password])
            #expect(login.status == .ok)
        }
    }

    @Test("login: right password starts a session; wrong password and unknown email get the same 401")
    func login() async throws {
        try await WebTestHarness.withApp { h in
            let carol = WebTestHarness.uniqueEmail("carol")
            let user = try await h.createUser(email: carol, password: Self.password)
            let ok = try await h.request(.post, "/api/v1/auth/login", json: ["email": carol.uppercased(), "password": Self.password])
            #expect(ok.status == .ok)
            #expect(ok["user"]["id"].int64 == user.id)
            let session = try #require(ok.session)
            #expect(try await h.request(.get, "/api/v1/me", session: session).status == .ok)

            let wrong = try await h.request(.post, "/api/v1/auth/login", json: ["email": carol, "password": "not the password at all"])
            let unknown = try await h.request(
                .post,
                "/api/v1/auth/login",
                json: ["email": WebTestHarness.uniqueEmail("nobody"), "password": "not the password at all"]
            )
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(wrong.errorCode == "invalid_credentials")
            #expect(wrong.json == unknown.json, "the answer does not tell which emails have accounts")
            #expect(wrong.sessionCookie == nil)

            // Logging in again from a browser that has a session replaces it (no session fixation).
            let relogin = try await h.request(
                .post,
                "/api/v1/auth/login",
                session: session,
                json: ["email": carol, "password": Self.password]
            )
            #expect(relogin.status == .ok)
            let fresh = try #require(relogin.session)
            #expect(fresh.token != session.token)
            #expect(try await h.request(.get, "/api/v1/me", session: session).status == .unauthorized)
            #expect(try await h.request(.get, "/api/v1/me", session: fresh).status == .ok)
        }
    }

    @Test("logout ends this session and clears the cookie; an API token cannot log out")
    func logout() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let other = try await h.startSession(userID: user.id)
            let out = try await h.request(.post, "/api/v1/auth/logout", as: user, via: .session)
            #expect(out.status == .noContent)
            #expect(out.sessionCookieAttribute("Max-Age") == "0")
            #expect(out.sessionCookie?.hasPrefix("tack_session=;") == true)
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .session).status == .unauthorized)
            #expect(try await h.request(.get, "/api/v1/me", session: other).status == .ok, "other sessions stay")
            let gone = try await h.rows("SELECT id FROM sessions WHERE id = \(user.session.id)")
            #expect(gone.isEmpty)

            let byToken = try await h.request(.post, "/api/v1/auth/logout", as: user, via: .bearer)
            #expect(byToken.status == .badRequest)
            #expect(byToken.errorCode == "no_session")
            #expect(try await h.request(.post, "/api/v1/auth/logout").status == .unauthorized)
        }
    }

    @Test("logout everywhere ends every session of the user and no one else's")
    func logoutAll() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser()
            let stranger = try await h.createUser()
            let laptop = try await h.startSession(userID: user.id)
            let phone = try await h.startSession(userID: user.id)
            let out = try await h.request(.post, "/api/v1/auth/logout_all", session: laptop)
            #expect(out.status == .noContent)
            #expect(out.sessionCookieAttribute("Max-Age") == "0")
            for session in [laptop, phone, user.session] {
                #expect(try await h.request(.get, "/api/v1/me", session: session).status == .unauthorized)
            }
            #expect(try await h.request(.get, "/api/v1/me", as: stranger, via: .session).status == .ok)
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .bearer).status == .ok, "API tokens are not sessions")
            let left = try await h.rows("SELECT count(*) FROM sessions WHERE user_id = \(user.id)").first!.decode(Int.self)
            #expect(left == 0)
        }
    }

    @Test("GET /me: 401 without credentials; by token it says so and has no CSRF token")
    func me() async throws {
        try await WebTestHarness.withApp { h in
            let anonymous = try await h.request(.get, "/api/v1/me")
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.errorCode == "unauthenticated")
            let admin = try await h.createUser(name: "Root", admin: true)
            let me = try await h.request(.get, "/api/v1/me", as: admin, via: .bearer)
            #expect(me.status == .ok)
            #expect(me["user"]["is_admin"].bool == true)
            #expect(me["user"]["name"].string == "Root")
            #expect(me["authenticated_by"].string == "token")
            #expect(me["csrf_token"].isNull)
        }
    }

    @Test("password change: checks the current one, refuses a weak one, logs out the other sessions, leaves API tokens (as documented)")
    func changePassword() async throws {
        try await WebTestHarness.withApp { h in
            let user = try await h.createUser(password: Self.password)
            let other = try await h.startSession(userID: user.id)
            let newPassword = "another quite long passphrase"

            let wrong = try await h.request(
                .put,
                "/api/v1/me/password",
                as: user,
                via: .session,
                json: ["current_password": "not my password here", "new_password": newPassword]
            )
            #expect(wrong.status == .forbidden)
            #expect(wrong.errorCode == "wrong_password")
            #expect(wrong.errorField == "current_password")

            let weak = try await h.request(
                .put,
                "/api/v1/me/password",
                as: user,
                via: .session,
                json: ["current_password": Self.password, "new_password": "password123"]
            )
            #expect(weak.status == .badRequest)
            #expect(weak.errorField == "new_password")
            let short = try await h.request(
                .put,
                "/api/v1/me/password",
                as: user,
                via: .session,
                json: ["current_password": Self.password, "new_password": "short"]
            )
            #expect(short.errorField == "new_password")
            #expect(try await h.request(.get, "/api/v1/me", session: other).status == .ok, "failed changes log no one out")

            let ok = try await h.request(
                .put,
                "/api/v1/me/password",
                as: user,
                via: .session,
                json: ["current_password": Self.password, "new_password": newPassword]
            )
            #expect(ok.status == .noContent)
            #expect(try await h.request(.get, "/api/v1/me", as: user, via: .session).status == .ok, "the session that changed it stays")
            #expect(try await h.request(.get, "/api/v1/me", session: other).status == .unauthorized, "every other session ends")
            #expect(
                try await h.request(.get, "/api/v1/me", as: user, via: .bearer).status == .ok,
                "API tokens keep working, as the settings page, the tokens page and the OpenAPI document say"
            )

            let old = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": Self.password])
            #expect(old.status == .unauthorized)
            let new = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": newPassword])
            #expect(new.status == .ok)
        }
    }

    @Test("passwords are stored as bcrypt hashes; passwords and tokens never reach the logs")
    func secretsStayOutOfStorageAndLogs() async throws {
        let capture = LogCapture()
        try await WebTestHarness.withApp(logger: capture.logger()) { h in
            let dora = WebTestHarness.uniqueEmail("dora")
            let signup = try await h.request(.post, "/api/v1/auth/signup", json: ["email": dora, "name": "Dora", "password": Self.password])
            let session = try #require(signup.session)
            _ = try await h.request(.post, "/api/v1/auth/login", json: ["email": dora, "password": "a wrong guess at it"])
            let token = try #require(
                try await h.request(.post, "/api/v1/me/tokens", session: session, json: ["name": "ci", "scope": "read_write"])["token"].string
            )
            _ = try await h.request(.get, "/api/v1/me", headers: [.authorization: "Bearer " + token])
            _ = try await h.request(
                .put,
                "/api/v1/me/password",
                session: session,
                json: ["current_password": Self.password, "new_password": "the next long passphrase"]
            )

            let hash = try await h.rows("SELECT password_hash FROM users WHERE email = \(dora)").first!.decode(String.self)
            #expect(hash.hasPrefix("$2b$04$"), "bcrypt, at the harness's cost")
            let logs = capture.all.joined(separator: "\n")
            #expect(!logs.isEmpty, "the capture works")
            for secret in [Self.password, "a wrong guess at it", "the next long passphrase", token, session.token, session.csrfToken] {
                #expect(!logs.contains(secret), "a secret reached the logs")
            }
        }
    }

    @Test("production hashes use bcrypt cost 12; long passphrases count beyond bcrypt's 72 bytes")
    func hasher() async throws {
        let hash = try await PasswordHasher().hash("correct horse battery staple")
        #expect(hash.hasPrefix("$2b$12$"))
        let fast = PasswordHasher(cost: 4)
        let long = String(repeating: "x", count: 80)
        let stored = try await fast.hash(long + "a")
        #expect(try await fast.verify(long + "a", hash: stored))
        #expect(try await !fast.verify(long + "b", hash: stored), "plain bcrypt would accept this")
    }
}
