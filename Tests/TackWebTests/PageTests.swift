import Foundation
import Hummingbird
import HummingbirdTesting
import Mustache
import TackTestSupport
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Pages")
struct PageTests {
    @Test("a page without a session redirects to /login?next=<path and query>; / goes to login or boards")
    func redirectsToLogin() async throws {
        try await WebTestHarness.withApp { h in
            let boards = try await h.request(.get, "/boards")
            #expect(boards.status == .found)
            #expect(boards.headers[.location] == "/login?next=/boards")
            let members = try await h.request(.get, "/boards/7/members?tab=a&b=c")
            #expect(members.headers[.location] == "/login?next=/boards/7/members%3Ftab%3Da%26b%3Dc")
            let tokens = try await h.request(.get, "/account/tokens")
            #expect(tokens.headers[.location] == "/login?next=/account/tokens")
            #expect(try await h.request(.get, "/").headers[.location] == "/login")

            // An API token is for scripts: pages want a browser session.
            let user = try await h.createUser()
            #expect(try await h.request(.get, "/boards", as: user, via: .bearer).status == .found)
            #expect(try await h.request(.get, "/", as: user, via: .session).headers[.location] == "/boards")
            // Logged in already: the login page sends you on.
            #expect(try await h.request(.get, "/login?next=%2Faccount%2Ftokens", as: user, via: .session).headers[.location] == "/account/tokens")
        }
    }

    @Test("the login page is HTML under the CSP, not cached, and never sends people to another site after login")
    func loginPage() async throws {
        try await WebTestHarness.withApp { h in
            let page = try await h.request(.get, "/login?next=%2Fboards%2F3")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.body.contains("id=\"login-form\""))
            #expect(page.body.contains("data-next=\"/boards/3\""))
            #expect(!page.body.contains("<script>"), "no inline script")
            #expect(!page.body.contains("style="), "no inline style")
            for hostile in ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)"] {
                let encoded = hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let reply = try await h.request(.get, "/login?next=" + encoded)
                #expect(reply.body.contains("data-next=\"/boards\""), "next=\(hostile) falls back to /boards")
            }
            let signup = try await h.request(.get, "/signup")
            #expect(signup.body.contains("id=\"signup-form\""))
        }
    }

    @Test("sign-up by invitation: the page says so and shows no form")
    func signupClosed() async throws {
        try await WebTestHarness.withApp(settings: ["web.signup": "invite"]) { h in
            let page = try await h.request(.get, "/signup")
            #expect(page.status == .ok)
            #expect(!page.body.contains("id=\"signup-form\""))
            #expect(page.body.contains("by invitation"))
            #expect(!(try await h.request(.get, "/login")).body.contains("Create an account"))
        }
    }

    @Test("the board page renders columns and cards escaped, with the version, the CSRF token and a script-safe snapshot")
    func boardPage() async throws {
        try await WebTestHarness.withApp { h in
            let alice = try await h.createUser(name: "Alice <b>Admin</b>")
            let board = try await h.request(.post, "/api/v1/boards", as: alice, json: ["name": "<script>alert('board')</script>"])
            let boardID = try #require(board["board"]["id"].int64)
            let column = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: alice, json: ["name": "To do", "wip_limit": 1])
            let columnID = try #require(column["column"]["id"].int64)
            _ = try await h.request(
                .post,
                "/api/v1/boards/\(boardID)/cards",
                as: alice,
                json: ["column_id": columnID, "title": "</script><img src=x onerror=alert(1)>", "assignees": [alice.id]]
            )
            let last = try await h.request(.post, "/api/v1/boards/\(boardID)/cards", as: alice, json: ["column_id": columnID, "title": "Second"])
            let version = try #require(last["version"].int64)

            let page = try await h.request(.get, "/boards/\(boardID)", as: alice, via: .session)
            #expect(page.status == .ok)
            #expect(page.headers[.cacheControl] == "no-store")
            let html = page.body
            #expect(html.contains("data-board-id=\"\(boardID)\""))
            #expect(html.contains("data-version=\"\(version)\""))
            #expect(html.contains("<meta name=\"csrf-token\" content=\"\(alice.session.csrfToken)\">"))
            #expect(html.contains("&lt;script&gt;alert(&#39;board&#39;)&lt;/script&gt;"))
            #expect(!html.contains("<script>alert"))
            #expect(!html.contains("<img src=x"))
            #expect(html.contains("is-over-limit"), "two cards over a WIP limit of one")
            #expect(html.contains(">2 / 1<"))
            #expect(html.contains("title=\"Alice &lt;b&gt;Admin&lt;/b&gt;\""), "assignee avatars carry the name, escaped")

            // The snapshot for the scripts: one script element, nothing in it that could close it.
            let start = try #require(html.range(of: "<script type=\"application/json\" id=\"board-snapshot\">"))
            let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
            let json = String(html[start.upperBound..<end.lowerBound])
            #expect(!json.contains("<") && !json.contains(">"))
            let snapshot = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            let cards = try #require(snapshot?["cards"] as? [[String: Any]])
            #expect(cards.map { $0["title"] as? String } == ["</script><img src=x onerror=alert(1)>", "Second"])
            #expect((snapshot?["board"] as? [String: Any])?["version"] as? Int == Int(version))

            // Members and tokens pages.
            let members = try await h.request(.get, "/boards/\(boardID)/members", as: alice, via: .session)
            #expect(members.status == .ok)
            #expect(members.body.contains("id=\"add-member\""), "the owner may add members")
            let tokens = try await h.request(.get, "/account/tokens", as: alice, via: .session)
            #expect(tokens.body.contains("test read_write"), "the harness's tokens are listed")
            #expect(!tokens.body.contains(alice.bearer.dropFirst("Bearer tack_pat_".count)), "never a secret")
        }
    }

    @Test("the board page is rendered once per version and role, yet shows every write at once and each role its own controls")
    func boardPageFollowsWrites() async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser(name: "Owner")
            let viewer = try await h.createUser(name: "Viewer")
            let board = try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": "Cached"])
            let boardID = try #require(board["board"]["id"].int64)
            _ = try await h.request(.put, "/api/v1/boards/\(boardID)/members", as: owner, json: ["email": viewer.email, "role": "viewer"])
            let column = try await h.request(.post, "/api/v1/boards/\(boardID)/columns", as: owner, json: ["name": "To do"])
            let columnID = try #require(column["column"]["id"].int64)
            let first = try await h.request(
                .post,
                "/api/v1/boards/\(boardID)/cards",
                as: owner,
                json: ["column_id": columnID, "title": "First card"]
            )

            let before = try await h.request(.get, "/boards/\(boardID)", as: owner, via: .session).body
            #expect(before.contains("data-version=\"\(try #require(first["version"].int64))\""))
            #expect(before.contains(">First card<") && !before.contains(">Second card<"))
            #expect(try await h.request(.get, "/boards/\(boardID)", as: owner, via: .session).body == before, "the same version renders the same")

            // A write bumps the version: the next page shows it, and its snapshot agrees.
            let second = try await h.request(
                .post,
                "/api/v1/boards/\(boardID)/cards",
                as: owner,
                json: ["column_id": columnID, "title": "Second card"]
            )
            let after = try await h.request(.get, "/boards/\(boardID)", as: owner, via: .session).body
            #expect(after.contains("data-version=\"\(try #require(second["version"].int64))\""))
            #expect(after.contains(">First card<") && after.contains(">Second card<"))
            #expect(after.contains("\"title\":\"Second card\""))

            // One version, two roles: each sees its own controls; the layout is each caller's.
            let seen = try await h.request(.get, "/boards/\(boardID)", as: viewer, via: .session).body
            #expect(seen.contains("data-can-write=\"false\"") && !seen.contains("class=\"drag-handle\""))
            #expect(seen.contains("<meta name=\"csrf-token\" content=\"\(viewer.session.csrfToken)\">"))
            #expect(seen.contains("<span class=\"account-name\">Viewer</span>"))
            #expect(after.contains("data-can-write=\"true\"") && after.contains("class=\"drag-handle\""))
            #expect(
                try await h.request(.get, "/boards/\(boardID)/members", as: viewer, via: .session).body.contains(
                    "Viewer <span class=\"muted\">(you)</span>"
                )
            )

            // Access is checked on every request, cached board or not.
            _ = try await h.request(.delete, "/api/v1/boards/\(boardID)/members/\(viewer.id)", as: owner)
            for path in ["/boards/\(boardID)", "/boards/\(boardID)/members"] {
                let reply = try await h.request(.get, path, as: viewer, via: .session)
                #expect(reply.status == .notFound, "\(path)")
                #expect(!reply.body.contains("Second card"))
            }
        }
    }

    @Test("the board cache serves only its version, role and day, never keeps an older version over a newer one, and stays within its size")
    func snapshotCache() {
        let cache = SnapshotCache<String>(capacity: 100)
        cache.store("v2", bytes: 10, boardID: 1, version: 2, role: .member, variant: 7)
        #expect(cache.body(boardID: 1, version: 2, role: .member, variant: 7) == "v2")
        #expect(cache.body(boardID: 1, version: 2, role: .member, variant: 8) == nil, "another day")
        #expect(cache.body(boardID: 1, version: 3, role: .member, variant: 7) == nil, "another version")
        #expect(cache.body(boardID: 1, version: 2, role: .viewer, variant: 7) == nil, "another role")
        cache.store("v1", bytes: 10, boardID: 1, version: 1, role: .member, variant: 7)
        #expect(cache.body(boardID: 1, version: 2, role: .member, variant: 7) == "v2", "an older version does not replace a newer one")
        cache.store("v2 next day", bytes: 10, boardID: 1, version: 2, role: .member, variant: 8)
        #expect(cache.body(boardID: 1, version: 2, role: .member, variant: 8) == "v2 next day")
        cache.store("big", bytes: 60, boardID: 2, version: 1, role: .member)
        cache.store("bigger", bytes: 60, boardID: 3, version: 1, role: .member)
        #expect(cache.body(boardID: 2, version: 1, role: .member) == nil, "the least recently used goes first")
        #expect(cache.body(boardID: 3, version: 1, role: .member) == "bigger")
        cache.store("too big", bytes: 101, boardID: 4, version: 1, role: .member)
        #expect(cache.body(boardID: 4, version: 1, role: .member) == nil)
    }

    @Test("every page model answers every one of its properties by name, as reflection would, so no key goes missing from a page")
    func modelKeys() {
        let layout = LayoutModel(
            title: "T",
            page: "p",
            assetVersion: "v",
            user: UserModel(id: 3, name: "Ada Lovelace", email: "a@example.com"),
            csrfToken: "c",
            signupOpen: true
        )
        let avatar = PageModels.avatar(3, "Ada")
        let card = CardModel(
            id: 1,
            columnID: 2,
            title: "t",
            done: true,
            hasDescription: true,
            commentCount: 2,
            checklist: ChecklistBadgeModel(done: 1, total: 3, complete: false),
            labels: [LabelModel(id: 4, name: "l", color: "#000000")],
            assignees: [avatar],
            due: DueModel(iso: "i", text: "x", overdue: true),
            draggable: true
        )
        let column = ColumnModel(id: 2, name: "c", cardCount: 1, wipLimit: 3, overLimit: false, cards: [card])
        let role = MembersPageModel.Role(value: "member", selected: true)
        let token = TokensPageModel.Token(id: 5, name: "n", scope: "s", readWrite: true, created: "c", lastUsed: "l")
        let models: [any MustacheParent] = [
            layout, PlainPageModel(layout: layout), WebhooksPageModel(layout: layout, boardID: 1, boardName: "b"), layout.user!,
            AuthPageModel(layout: layout, next: "/", nextQuery: "%2F"),
            BoardsPageModel(layout: layout, boards: [.init(id: 1, name: "n", description: "d", role: "owner")]),
            BoardsPageModel.Item(id: 1, name: "n", description: "d", role: "owner"), LabelModel(id: 4, name: "l", color: "#000000"), avatar,
            DueModel(iso: "i", text: "x", overdue: true), ChecklistBadgeModel(done: 1, total: 3, complete: false), card, column,
            BoardPageModel(
                id: 1,
                name: "n",
                description: "d",
                version: 9,
                role: "owner",
                canWrite: true,
                canAdmin: true,
                columns: [column],
                cardTemplate: card,
                columnTemplate: column,
                snapshotJSON: "{}"
            ),
            MembersPageModel(
                layout: layout,
                boardID: 1,
                boardName: "b",
                canAdmin: true,
                members: [.init(userID: 3, name: "n", email: "e", role: "member", roles: [role], avatar: avatar, isSelf: true)],
                roles: [role]
            ),
            role, MembersPageModel.Member(userID: 3, name: "n", email: "e", role: "member", roles: [role], avatar: avatar, isSelf: true),
            TokensPageModel(layout: layout, tokens: [token], hasTokens: true), token,
            ErrorPageModel(layout: layout, status: 404, heading: "h", message: "m"),
        ]
        for model in models {
            for child in Mirror(reflecting: model).children {
                let label = try! #require(child.label)
                let answer = model.child(named: label)
                #expect(answer != nil, "\(type(of: model)).\(label) is not answered")
                // What Mustache's reflection would have found: the value, an optional unwrapped.
                let reflected: Any? =
                    Mirror(reflecting: child.value).displayStyle == .optional ? Mirror(reflecting: child.value).children.first?.value : child.value
                #expect(answer.map { String(reflecting: $0) } == reflected.map { String(reflecting: $0) }, "\(type(of: model)).\(label)")
            }
            #expect(model.child(named: "noSuchKey") == nil)
        }
    }

    @Test("a board the caller is not on is a 404 page, as in the API; a viewer gets no editing controls")
    func boardAccess() async throws {
        try await WebTestHarness.withApp { h in
            let owner = try await h.createUser()
            let viewer = try await h.createUser()
            let stranger = try await h.createUser()
            let board = try await h.request(.post, "/api/v1/boards", as: owner, json: ["name": "Private"])
            let boardID = try #require(board["board"]["id"].int64)
            _ = try await h.request(.put, "/api/v1/boards/\(boardID)/members", as: owner, json: ["email": viewer.email, "role": "viewer"])

            for path in [
                "/boards/\(boardID)", "/boards/\(boardID)/members", "/boards/\(boardID)/cards/1", "/boards/999999999999", "/boards/abc",
            ] {
                let reply = try await h.request(.get, path, as: stranger, via: .session)
                #expect(reply.status == .notFound, "\(path)")
                #expect(reply.headers[.contentType] == "text/html; charset=utf-8")
                #expect(!reply.body.contains("Private"))
            }
            let seen = try await h.request(.get, "/boards/\(boardID)", as: viewer, via: .session)
            #expect(seen.status == .ok)
            // A card's address is the board page (which opens the card); one that is no id is a 404.
            #expect(try await h.request(.get, "/boards/\(boardID)/cards/7", as: viewer, via: .session).status == .ok)
            #expect(try await h.request(.get, "/boards/\(boardID)/cards/abc", as: viewer, via: .session).status == .notFound)
            #expect(seen.body.contains("data-can-write=\"false\""))
            #expect(!seen.body.contains("id=\"new-column\""))
            #expect(!seen.body.contains("class=\"drag-handle\""))
            let members = try await h.request(.get, "/boards/\(boardID)/members", as: viewer, via: .session)
            #expect(!members.body.contains("id=\"add-member\""))
        }
    }

    @Test("assets come from public/ with a content type and a cache lifetime; nothing outside it is served")
    func assets() async throws {
        try await WebTestHarness.withApp { h in
            let script = try await h.request(.get, "/assets/js/main.js")
            #expect(script.status == .ok)
            #expect(script.headers[.contentType]?.contains("javascript") == true)
            #expect(script.headers[.cacheControl]?.contains("max-age=") == true)
            #expect(script.headers[.xContentTypeOptions] == "nosniff")
            let css = try await h.request(.get, "/assets/app.css")
            #expect(css.headers[.contentType]?.hasPrefix("text/css") == true)
            #expect(try await h.request(.get, "/assets/missing.js").status == .notFound)
            #expect(try await h.request(.get, "/assets/../Package.swift").status.code >= 400)
            #expect(try await h.request(.get, "/assets/%2e%2e/Package.swift").status.code >= 400)
            // The pages reference the assets by a digest of public/, so upgrades are never served stale.
            let login = try await h.request(.get, "/login")
            let version = PageTemplates.fingerprint(TestServers.root + "/public")
            #expect(login.body.contains("/assets/\(version)/js/main.js"))
            // The version is a path segment, so the modules' relative imports carry it.
            let module = try await h.request(.get, "/assets/\(version)/js/lib/api.js")
            #expect(module.status == .ok)
            #expect(module.headers[.contentType]?.contains("javascript") == true)
            #expect(module.headers[.cacheControl]?.contains("max-age=") == true)
            #expect(try await h.request(.get, "/assets/\(version)/../Package.swift").status.code >= 400)
            #expect(try await h.request(.get, "/assets/\(version)/js/missing.js").status == .notFound)
        }
    }

    @Test("templates that are missing or do not parse stop the router from being built, naming the file and line")
    func templateErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tack-templates-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: TackError.self) { try PageTemplates(directory: directory + "/nope", publicDirectory: directory) }
        do {
            _ = try PageTemplates(directory: directory, publicDirectory: directory)
            Issue.record("an empty template folder was accepted")
        } catch let error as TackError {
            #expect(error.description.contains("layout.mustache"), "\(error)")
        }
        try "line one\n{{#open}}never closed\n".write(toFile: directory + "/layout.mustache", atomically: true, encoding: .utf8)
        do {
            _ = try PageTemplates(directory: directory, publicDirectory: directory)
            Issue.record("a broken template was accepted")
        } catch let error as TackError {
            #expect(error.description.contains("layout.mustache:"), "\(error)")
        }
        // The board's layout must say where the cached board goes.
        for name in PageTemplates.required {
            try "{{<layout}}{{/layout}}\n".write(toFile: directory + "/\(name).mustache", atomically: true, encoding: .utf8)
        }
        try "<html>{{$main}}{{/main}}</html>\n".write(toFile: directory + "/layout.mustache", atomically: true, encoding: .utf8)
        do {
            _ = try PageTemplates(directory: directory, publicDirectory: directory)
            Issue.record("a board template without the board's place was accepted")
        } catch let error as TackError {
            #expect(error.description.contains("board.mustache"), "\(error)")
        }
        // The shipped templates load.
        let shipped = try PageTemplates(directory: TestServers.root + "/templates", publicDirectory: TestServers.root + "/public")
        #expect(PageTemplates.required.allSatisfy { shipped.library.getTemplate(named: $0) != nil })
    }

    @Test("due dates show their UTC day (and time), and are overdue only before today (or that time) and while open; initials and colours are stable")
    func models() {
        let now = ISO8601DateFormatter().date(from: "2026-03-10T08:00:00Z")!
        let yesterday = ISO8601DateFormatter().date(from: "2026-03-09T12:00:00Z")!
        #expect(PageModels.due(yesterday, done: false, now: now).overdue)
        #expect(!PageModels.due(yesterday, done: true, now: now).overdue)
        #expect(!PageModels.due(now, done: false, now: now).overdue)
        #expect(PageModels.due(yesterday, done: false, now: now).text == "Mar 9")
        #expect(PageModels.due(ISO8601DateFormatter().date(from: "2027-01-02T12:00:00Z")!, done: false, now: now).text == "Jan 2, 2027")
        // With a time of day: shown with it, overdue from that instant (not from the next day).
        let earlier = ISO8601DateFormatter().date(from: "2026-03-10T07:30:00Z")!
        let later = ISO8601DateFormatter().date(from: "2026-03-10T17:45:00Z")!
        #expect(PageModels.due(earlier, hasTime: true, done: false, now: now).overdue)
        #expect(!PageModels.due(earlier, hasTime: false, done: false, now: now).overdue)
        #expect(!PageModels.due(later, hasTime: true, done: false, now: now).overdue)
        #expect(PageModels.due(later, hasTime: true, done: false, now: now).text == "Mar 10, 17:45 UTC")
        #expect(PageModels.initials("Ada Lovelace Byron") == "AL")
        #expect(PageModels.initials("  ") == "?")
        #expect(PageModels.avatarClass(9) == PageModels.avatarClass(1))
        #expect(PageModels.scriptJSON(Data("{\"a\":\"</script>&\u{2028}\"}".utf8)) == "{\"a\":\"\\u003c/script\\u003e\\u0026\\u2028\"}")
    }
}
