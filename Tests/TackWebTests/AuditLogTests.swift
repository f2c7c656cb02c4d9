import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TackTestSupport
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Audit log lines")
struct AuditLogTests {
    static func lines(_ capture: LogCapture, _ event: AuditLog.Event) -> [String] {
        capture.all.filter { $0.contains("tack.audit") && $0.contains(event.name) }
    }

    @Test("a failed login, a lock-out and a CSRF refusal each leave one notice line, without what was typed")
    func eachEventLeavesOneLine() async throws {
        let capture = LogCapture()
        try await WebTestHarness.withApp(settings: ["web.login_max_attempts": "1"], logger: capture.logger()) { h in
            let user = try await h.createUser()
            let typed = "typed-\(UUID().uuidString)"
            let failed = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": typed])
            #expect(failed.status == .unauthorized)
            let locked = try await h.request(.post, "/api/v1/auth/login", json: ["email": user.email, "password": user.password])
            #expect(locked.status == .tooManyRequests)
            let forged = try await h.request(.post, "/api/v1/boards", as: user, via: .sessionWithoutCSRF, json: ["name": "Forged"])
            #expect(forged.status == .forbidden)

            let failure = Self.lines(capture, .loginFailed)
            #expect(failure.count == 1)
            #expect(failure.first?.hasPrefix("notice ") == true)
            #expect(failure.first?.contains(h.clientAddress) == true, "the client address is named")
            #expect(failure.first?.contains(LoginThrottle.accountKey(user.email)) == true, "the account is named by its digest")
            #expect(failure.first?.contains("hb.request.id") == true, "the line carries the request id")
            #expect(Self.lines(capture, .loginLockedOut).count == 1)
            let csrf = Self.lines(capture, .csrfRefused)
            #expect(csrf.count == 1)
            #expect(csrf.first?.contains("\"\(user.id)\"") == true || csrf.first?.contains(": \(user.id)") == true)
            let all = capture.all.joined(separator: "\n")
            for secret in [typed, user.password, user.email, user.session.token, user.session.csrfToken] {
                #expect(!all.contains(secret), "what was typed or a secret reached the logs")
            }
        }
    }

    @Test("a flood of failed logins from one address is one line per interval, counting the rest")
    func floodsAreRateLimited() async throws {
        let capture = LogCapture()
        let audit = AuditLog(interval: .seconds(60))
        let logger = capture.logger()
        for _ in 0..<50 {
            audit.record(.loginFailed, key: "192.0.2.1", logger: logger, metadata: ["tack.client": "192.0.2.1"])
        }
        audit.record(.loginFailed, key: "192.0.2.2", logger: logger, metadata: ["tack.client": "192.0.2.2"])
        #expect(Self.lines(capture, .loginFailed).count == 2, "one per address")

        let quick = AuditLog(interval: .milliseconds(1))
        quick.record(.csrfRefused, key: "7", logger: logger, metadata: [:])
        try await Task.sleep(for: .milliseconds(5))
        quick.record(.csrfRefused, key: "7", logger: logger, metadata: [:])
        #expect(Self.lines(capture, .csrfRefused).count == 2, "a new line once the interval has passed")

        let bounded = AuditLog(interval: .seconds(60), capacity: 3)
        for i in 0..<100 { bounded.record(.loginLockedOut, key: "10.0.0.\(i)", logger: logger, metadata: [:]) }
        #expect(Self.lines(capture, .loginLockedOut).count == 4, "past capacity new keys share one line")
    }
}
