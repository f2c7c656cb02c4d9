import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import TackRedis
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Login throttling")
struct LoginThrottleTests {
    @Test("after max failures on an account, logins to it are 429 with Retry-After, even with the right password")
    func perAccount() async throws {
        try await WebTestHarness.withApp(settings: ["web.login_max_attempts": "3", "web.login_window": "600"]) { h in
            let user = try await h.createUser()
            let bystander = try await h.createUser()
            for _ in 0..<3 {
                let reply = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": "wrong but long enough"])
                #expect(reply.status == .unauthorized)
            }
            let locked = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            #expect(locked.status == .tooManyRequests)
            #expect(locked.errorCode == "too_many_attempts")
            #expect(locked.sessionCookie == nil)
            let retry = try #require(locked.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...600).contains(retry))

            // From another address too: the account is what is locked.
            let elsewhere = try await h.request(
                .post,
                "/api/v1/auth/login",
                json: ["email": user.email.uppercased(), "password": user.password],
                headers: [ClientAddress.forwardedFor: "192.0.2.77"]
            )
            #expect(elsewhere.status == .tooManyRequests)

            // Other accounts from the same address are not affected (per-address limit is higher).
            let other = try await h.request(.post, "/api/v1/auth/login", json: ["email": bystander.email, "password": bystander.password])
            #expect(other.status == .ok)

            // When the window ends, the account can log in again.
            let key = RedisKeys.loginFailuresOfAccount(LoginThrottle.accountKey(user.email))
            _ = try await h.redis.sendChecked("PEXPIRE", key, 1)
            try await Task.sleep(for: .milliseconds(20))
            let later = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            #expect(later.status == .ok)
        }
    }

    @Test("after max failures from one address, logins from it are 429 whatever the account")
    func perAddress() async throws {
        try await WebTestHarness.withApp(settings: ["web.login_max_attempts_per_address": "4"]) { h in
            let user = try await h.createUser()
            for i in 0..<4 {
                let reply = try await h.request(
                    .post,
                    "/api/v1/auth/login",
                    json: ["email": WebTestHarness.uniqueEmail("guess\(i)"), "password": "wrong but long enough"]
                )
                #expect(reply.status == .unauthorized)
            }
            let blocked = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.headers[.retryAfter] != nil)
            let fromElsewhere = try await h.request(
                .post,
                "/api/v1/auth/login",
                json: ["email": user.email, "password": user.password],
                headers: [ClientAddress.forwardedFor: "198.51.100.\(Int.random(in: 1...254))"]
            )
            #expect(fromElsewhere.status == .ok)
        }
    }

    @Test("a success clears the account's count")
    func successResets() async throws {
        try await WebTestHarness.withApp(settings: ["web.login_max_attempts": "3"]) { h in
            let user = try await h.createUser()
            for _ in 0..<2 { _ = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": "wrong but long enough"]) }
            #expect(try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password]).status == .ok)
            for _ in 0..<2 {
                let reply = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": "wrong but long enough"])
                #expect(reply.status == .unauthorized, "two fresh failures, below the limit of three")
            }
        }
    }

    @Test("wrong current passwords on a password change count as failed logins")
    func passwordChangeIsThrottled() async throws {
        try await WebTestHarness.withApp(settings: ["web.login_max_attempts": "2"]) { h in
            let user = try await h.createUser()
            for _ in 0..<2 {
                let reply = try await h.request(
                    .put,
                    "/api/v1/me/password",
                    as: user,
                    via: .session,
                    json: ["current_password": "guessing the password", "new_password": "a fresh long passphrase"]
                )
                #expect(reply.status == .forbidden)
            }
            let locked = try await h.request(
                .put,
                "/api/v1/me/password",
                as: user,
                via: .session,
                json: ["current_password": user.password, "new_password": "a fresh long passphrase"]
            )
            #expect(locked.status == .tooManyRequests)
        }
    }

    @Test("the client address: X-Forwarded-For's last entry, only from a loopback or Unix-socket peer")
    func clientAddress() throws {
        let loopback = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        let loopback6 = try SocketAddress(ipAddress: "::1", port: 40000)
        let remote = try SocketAddress(ipAddress: "203.0.113.9", port: 40000)
        let unix = try SocketAddress(unixDomainSocketPath: "/tmp/tack.sock")
        #expect(ClientAddress.resolve(peer: loopback, forwardedFor: "198.51.100.1") == "198.51.100.1")
        #expect(
            ClientAddress.resolve(peer: loopback, forwardedFor: "6.6.6.6, 198.51.100.1") == "198.51.100.1",
            "nginx appends the address it saw; what the client sent before it is not trusted"
        )
        #expect(ClientAddress.resolve(peer: loopback6, forwardedFor: "2001:DB8::1") == "2001:db8::1")
        #expect(ClientAddress.resolve(peer: unix, forwardedFor: "198.51.100.1") == "198.51.100.1")
        #expect(ClientAddress.resolve(peer: remote, forwardedFor: "198.51.100.1") == "203.0.113.9", "anyone can send the header")
        #expect(ClientAddress.resolve(peer: loopback, forwardedFor: "not an address") == "127.0.0.1")
        #expect(ClientAddress.resolve(peer: loopback, forwardedFor: "tack:{login}:x") == "127.0.0.1", "never a Redis key fragment")
        #expect(ClientAddress.resolve(peer: loopback, forwardedFor: nil) == "127.0.0.1")
        #expect(ClientAddress.resolve(peer: remote, forwardedFor: nil) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: nil, forwardedFor: "198.51.100.2") == "198.51.100.2")
    }

    @Test("the peer address reaches the context on a live server")
    func livePeer() async throws {
        // The in-process router tests have no socket; this one does (127.0.0.1).
        let router = Router(context: TackRequestContext.self)
        router.get("/peer") { request, context in
            ClientAddress.resolve(peer: context.peerAddress, forwardedFor: request.headers[ClientAddress.forwardedFor])
        }
        let app = Application(router: router)
        try await app.test(.live) { client in
            let direct = try await client.execute(uri: "/peer", method: .get)
            #expect(String(buffer: direct.body) == "127.0.0.1")
            let proxied = try await client.execute(uri: "/peer", method: .get, headers: [ClientAddress.forwardedFor: "198.51.100.3"])
            #expect(String(buffer: proxied.body) == "198.51.100.3")
        }
    }
}
