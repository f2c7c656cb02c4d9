import Foundation
import Hummingbird
import PostgresNIO
import Testing

@testable import TackWeb

@Suite("Webhooks, notifications and exports API")
struct WebhookAPITests {
    /// A board owned by `owner` with `others` added in the given roles; returns its id.
    func board(_ h: WebTestHarness, owner: TestUser, members: [(TestUser, String)]) async throws -> Int64 {
        let board = try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": "Hooks"])
        let boardID = try #require(board["board"]["id"].int64)
        for (user, role) in members {
            let added = try await h.request(.put, "/api/v1/boards/\(boardID)/members", as: owner, json: ["email": user.email, "role": role])
            #expect(added.status == .ok || added.status == .created)
        }
        return boardID
    }

    @Test("webhooks: admins manage them, members get 403, outsiders 404; the secret is shown once")
    func webhookLifecycleAndAuthorization() async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let admin = try await h.createUser()
            let member = try await h.createUser()
            let outsider = try await h.createUser()
            let boardID = try await board(h, owner: owner, members: [(admin, "admin"), (member, "member")])
            let path = "/api/v1/boards/\(boardID)/webhooks"

            let created = try await h.request(
                .post,
                path,
                as: admin,
                json: ["url": "https://hooks.example.com/tack", "events": ["card.created", "card.moved"]]
            )
            #expect(created.status == .created)
            let secret = try #require(created["secret"].string)
            #expect(secret.hasPrefix("whsec_") && secret.count == 70)
            let id = try #require(created["webhook"]["id"].int64)
            #expect(created["webhook"]["events"][1].string == "card.moved")
            #expect(created["webhook"]["active"].bool == true)

            let listed = try await h.request(.get, path, as: owner)
            #expect(listed.status == .ok)
            #expect(listed["items"][0]["id"].int64 == id)
            #expect(!listed.body.contains(secret), "the secret is never shown again")

            #expect(try await h.request(.get, path, as: member).status == .forbidden)
            #expect(try await h.request(.post, path, as: member, json: ["url": "https://x.example.com/"]).status == .forbidden)
            #expect(try await h.request(.get, path, as: outsider).status == .notFound)
            #expect(try await h.request(.get, path).status == .unauthorized)
            #expect(try await h.request(.post, path, as: admin, via: .readOnly, json: ["url": "https://x.example.com/"]).status == .forbidden)

            let off = try await h.request(.patch, "\(path)/\(id)", as: owner, json: ["active": false, "events": []])
            #expect(off.status == .ok)
            #expect(off["webhook"]["active"].bool == false)
            #expect(off["webhook"]["events"].array?.isEmpty == true)
            let log = try await h.request(.get, "\(path)/\(id)/deliveries", as: admin)
            #expect(log.status == .ok)
            #expect(log["items"].array?.isEmpty == true)
            #expect(try await h.request(.delete, "\(path)/\(id)", as: admin).status == .noContent)
            #expect(try await h.request(.get, "\(path)/\(id)", as: admin).status == .notFound)
        }
    }

    @Test(
        "webhook validation names the field and stores nothing",
        arguments: [
            (["url": "ftp://example.com/"], "url"),
            (["url": "http://127.0.0.1:8080/"], "url"),
            (["url": "http://[::1]/"], "url"),
            (["url": "http://10.0.0.8/"], "url"),
            (["url": "https://user:pw@example.com/"], "url"),
            (["url": "https://example.com/", "secret": "short"], "secret"),
            (["url": "https://example.com/", "events": ["Not A Kind"]], "events[0]"),
            (["url": "https://example.com/", "events": ["card.created", "card.exploded"]], "events[1]"),
            (["url": "https://example.com/", "colour": "red"], "colour"),
        ] as [([String: any Sendable], String)]
    )
    func webhookValidation(body: [String: any Sendable], field: String) async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let boardID = try await board(h, owner: owner, members: [])
            let reply = try await h.request(.post, "/api/v1/boards/\(boardID)/webhooks", as: owner, json: body)
            #expect(reply.status == .badRequest)
            #expect(reply.errorField == field)
            #expect(try await h.rows("SELECT id FROM webhooks").isEmpty)
        }
    }

    @Test(
        "every spelling of an internal address is refused at save as its dotted form is, unless private targets are allowed",
        arguments: [
            ("http://2130706433/", "http://127.0.0.1/"), ("http://0x7f000001/", "http://127.0.0.1/"), ("http://0177.0.0.1/", "http://127.0.0.1/"),
            ("http://127.1/", "http://127.0.0.1/"), ("http://127.0.0.1./", "http://127.0.0.1/"), ("http://0/", "http://0.0.0.0/"),
            ("http://0xa9fea9fe/", "http://169.254.169.254/"), ("http://169.254.169.254.:80/", "http://169.254.169.254/"),
            ("http://[fe80::1%25eth0]/", "http://[fe80::1]/"), ("http://[::1%25lo]:8080/", "http://[::1]/"),
            ("http://[::ffff:127.0.0.1]/", "http://[::ffff:127.0.0.1]/"), ("http://[::ffff:7f00:1]/", "http://[::ffff:127.0.0.1]/"),
        ]
    )
    func internalSpellingsAreRefusedAtSave(url: String, dotted: String) async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let boardID = try await board(h, owner: owner, members: [])
            let path = "/api/v1/boards/\(boardID)/webhooks"
            let reference = try await h.request(.post, path, as: owner, json: ["url": dotted])
            #expect(reference.status == .badRequest && reference.errorField == "url", "\(dotted): \(reference.body)")
            let reply = try await h.request(.post, path, as: owner, json: ["url": url])
            #expect(reply.status == .badRequest && reply.errorField == "url", "\(url): \(reply.status) \(reply.body)")
            #expect(reply["error"]["message"].string == reference["error"]["message"].string, "\(url): \(reply.body)")
            #expect(try await h.rows("SELECT id FROM webhooks").isEmpty)
            let named = try #require(try await h.request(.post, path, as: owner, json: ["url": "https://hooks.example.com/"])["webhook"]["id"].int64)
            let patched = try await h.request(.patch, "\(path)/\(named)", as: owner, json: ["url": url])
            #expect(patched.status == .badRequest && patched.errorField == "url", "a PATCH is checked too: \(patched.body)")
        }
        try await WebTestHarness.withApp(settings: ["webhooks.allow_private_targets": "true"]) { h in
            let owner = try await h.createUser()
            let boardID = try await board(h, owner: owner, members: [])
            let reply = try await h.request(.post, "/api/v1/boards/\(boardID)/webhooks", as: owner, json: ["url": url, "active": false])
            #expect(reply.status == .created, "\(url) with webhooks.allow_private_targets on: \(reply.body)")
        }
    }

    @Test("notifications: a mention reaches the bell; marking read; the email preference")
    func notifications() async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let bob = try await h.createUser(email: WebTestHarness.uniqueEmail("bob"))
            let boardID = try await board(h, owner: owner, members: [(bob, "member")])
            let column = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: owner, json: ["name": "Todo"])
            let card = try await h.request(
                .post,
                "/api/v1/boards/\(boardID)/cards",
                as: owner,
                json: ["column_id": try #require(column["column"]["id"].int64), "title": "Review"]
            )
            let cardID = try #require(card["card"]["id"].int64)
            let handle = String(bob.email.split(separator: "@")[0])
            _ = try await h.request(.post, "/api/v1/boards/\(boardID)/cards/\(cardID)/comments", as: owner, json: ["body": "@\(handle) look"])

            let bell = try await h.request(.get, "/api/v1/notifications?unread=true", as: bob)
            #expect(bell.status == .ok)
            #expect(bell["unread_count"].int == 1)
            #expect(bell["items"][0]["kind"].string == "mentioned")
            #expect(bell["items"][0]["card_id"].int64 == cardID)
            #expect(bell["items"][0]["read_at"].isNull)
            #expect(try await h.request(.get, "/api/v1/notifications", as: owner)["unread_count"].int == 0)

            let bad = try await h.request(.post, "/api/v1/notifications/read", as: bob, json: [:])
            #expect(bad.status == .badRequest)
            let read = try await h.request(.post, "/api/v1/notifications/read", as: bob, json: ["ids": [try #require(bell["items"][0]["id"].int64)]])
            #expect(read["unread_count"].int == 0)

            #expect(try await h.request(.get, "/api/v1/me/settings", as: bob)["email_notifications"].string == "instant")
            let daily = try await h.request(.patch, "/api/v1/me/settings", as: bob, json: ["email_notifications": "daily"])
            #expect(daily["email_notifications"].string == "daily")
            let wrong = try await h.request(.patch, "/api/v1/me/settings", as: bob, json: ["email_notifications": "hourly"])
            #expect(wrong.status == .badRequest && wrong.errorField == "email_notifications")
        }
    }

    @Test("exports: members ask for one and see it pending; outsiders get 404; a bad format is refused")
    func exports() async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let viewer = try await h.createUser()
            let outsider = try await h.createUser()
            let boardID = try await board(h, owner: owner, members: [(viewer, "viewer")])
            let path = "/api/v1/boards/\(boardID)/exports"
            let created = try await h.request(.post, path, as: viewer, json: ["format": "csv"])
            #expect(created.status == .accepted)
            let id = try #require(created["export"]["id"].int64)
            #expect(created["export"]["status"].string == "pending")
            #expect(try await h.request(.get, path, as: owner)["items"][0]["id"].int64 == id)
            let early = try await h.request(.get, "\(path)/\(id)/download", as: owner)
            #expect(early.status == .conflict)
            #expect(try await h.request(.get, "\(path)/\(id)", as: outsider).status == .notFound)
            let bad = try await h.request(.post, path, as: owner, json: ["format": "xlsx"])
            #expect(bad.status == .badRequest && bad.errorField == "format")
        }
    }
}
