import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("create_user's logic")
struct CreateUserTests {
    static let password = "a long and unusual passphrase"

    @Test("creates an administrator who can then log in through the API")
    func createsAdmin() async throws {
        try await WebTestHarness.withApp { h in
            let email = WebTestHarness.uniqueEmail("root")
            let user = try await CreateUser.run(
                email: email.uppercased(),
                name: "Root",
                password: Self.password,
                admin: true,
                postgres: h.postgres,
                hasher: h.passwordHasher,
                logger: h.logger
            )
            #expect(user.isAdmin)
            #expect(user.email == email)
            let login = try await h.request(.post, "/api/v1/auth/login", json: ["email": email, "password": Self.password])
            #expect(login.status == .ok)
            #expect(login["user"]["is_admin"].bool == true)
        }
    }

    @Test("a duplicate email is one line naming --email; nothing is changed")
    func duplicate() async throws {
        try await WebTestHarness.withApp { h in
            let existing = try await h.createUser(name: "First")
            do {
                _ = try await CreateUser.run(
                    email: existing.email,
                    name: "Second",
                    password: Self.password,
                    admin: true,
                    postgres: h.postgres,
                    hasher: h.passwordHasher,
                    logger: h.logger
                )
                Issue.record("a duplicate was created")
            } catch let error as TackError {
                #expect(error.code.rawValue == "email_taken")
                #expect(error.exitCode == 2)
                #expect(error.description.contains("--email \(existing.email)"))
                #expect(error.description.contains("already exists"))
                #expect(!error.description.contains("\n"))
            }
            let admins = try await h.rows("SELECT count(*) FROM users WHERE is_admin").first!.decode(Int.self)
            #expect(admins == 0)
        }
    }

    @Test("bad input is a usage error naming the option, and never echoes the password")
    func badInput() throws {
        let cases: [(String, String, String, String)] = [
            ("not-an-email", "Root", Self.password, "--email"),
            ("root@example.com", "", Self.password, "--name"),
            ("root@example.com", String(repeating: "n", count: 101), Self.password, "--name"),
            ("root@example.com", "Root", "short", "password"),
            ("root@example.com", "Root", "password123", "password"),
            ("root@example.com", "Root", "root@example.com", "password"),
        ]
        for (email, name, password, subject) in cases {
            do {
                try CreateUser.validate(email: email, name: name, password: password)
                Issue.record("accepted \(email) / \(name)")
            } catch let error as TackError {
                #expect(error.code == .usage)
                #expect(error.subject == subject, "\(error)")
                #expect(error.exitCode == 2)
                #expect(!error.description.contains("\n"))
                if subject == "password" { #expect(!error.description.contains(password), "\(error)") }
            }
        }
        #expect(throws: Never.self) { try CreateUser.validate(email: "root@example.com", name: "Root", password: Self.password) }
    }
}
