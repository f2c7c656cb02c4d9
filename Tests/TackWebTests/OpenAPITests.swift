import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOFoundationEssentialsCompat
import PostgresNIO
import TackTestSupport
import Testing

@testable import TackCore
@testable import TackWeb

/// `public/openapi.json` against the router it describes. The router is built with clients that are
/// never run: listing routes and serving the document need neither PostgreSQL nor Redis.
@Suite("The OpenAPI document describes exactly the API the router serves")
struct OpenAPITests {
    /// The document as kept in the repository.
    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestServers.root + "/" + OpenAPIController.relativePath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "the document is a JSON object")
    }

    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// "METHOD /path" of every operation in the document.
    static func documentedRoutes(_ doc: [String: Any]) throws -> Set<String> {
        let paths = try #require(doc["paths"] as? [String: Any])
        var routes = Set<String>()
        for (path, item) in paths {
            let item = try #require(item as? [String: Any], "\(path)")
            for method in methods where item[method] != nil { routes.insert("\(method.uppercased()) \(path)") }
        }
        return routes
    }

    /// Routes the document must describe: the JSON API and the operational endpoints. The HTML pages
    /// (everything else: `/`, `/login`, `/boards/{board}`, …) are for browsers and stay out of it.
    static func isDescribed(path: String) -> Bool {
        path.hasPrefix("/api/") || ["/healthz", "/readyz", "/metrics"].contains(path)
    }

    /// A router built like `run web` builds it, with clients that never connect.
    static func router() throws -> Router<TackRequestContext> {
        let config = try TestServers.configuration()
        let logger = WebTestHarness.defaultLogger
        let deps = WebDependencies(
            config: config,
            postgres: Database.makeClient(config.database, logger: logger),
            redis: try Clients.makeRedis(config, logger: logger),
            migrations: []
        )
        return try buildWebRouter(deps, logger: logger)
    }

    @Test("the document parses, is OpenAPI 3.1 and carries the release's version")
    func parsesAs31() throws {
        let doc = try Self.document()
        let version = try #require(doc["openapi"] as? String)
        #expect(version.hasPrefix("3.1."), "openapi is \(version)")
        let info = try #require(doc["info"] as? [String: Any])
        #expect(info["version"] as? String == TackVersion.current, "info.version follows TackVersion.current")
    }

    @Test("every route of the router is documented, and every documented route exists")
    func routesMatch() throws {
        let documented = try Self.documentedRoutes(Self.document())
        let routes = try Self.router().routes
        let served = Set(routes.filter { Self.isDescribed(path: $0.path.description) }.map { "\($0.method.rawValue) \($0.path.description)" })
        // What the document leaves out must be a page: pages only read, every change goes through /api/v1.
        let pageWrites = routes.filter { !Self.isDescribed(path: $0.path.description) && $0.method != .get }.map(\.description)
        #expect(pageWrites.isEmpty, "routes outside /api/ that are not GET pages, document them: \(pageWrites.joined(separator: ", "))")
        #expect(served.count > 40, "the router lists its routes (\(served.count))")
        let undocumented = served.subtracting(documented).sorted()
        let missing = documented.subtracting(served).sorted()
        #expect(undocumented.isEmpty, "routes missing from public/openapi.json: \(undocumented.joined(separator: ", "))")
        #expect(missing.isEmpty, "documented routes the router does not serve: \(missing.joined(separator: ", "))")
    }

    @Test("operations are complete: ids, typed path ids, strict bodies, errors in the shared schema")
    func operationsAreComplete() throws {
        let doc = try Self.document()
        let components = try #require(doc["components"] as? [String: Any])
        let parameters = try #require(components["parameters"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: Any])
        let responses = try #require(components["responses"] as? [String: Any])
        func resolve(_ object: Any?, in table: [String: Any]) -> [String: Any]? {
            guard let object = object as? [String: Any] else { return nil }
            guard let ref = object["$ref"] as? String else { return object }
            return table[String(ref.split(separator: "/").last ?? "")] as? [String: Any]
        }
        var operationIDs = Set<String>()
        for (path, item) in try #require(doc["paths"] as? [String: Any]) {
            let item = try #require(item as? [String: Any])
            let shared = (item["parameters"] as? [Any]) ?? []
            for method in Self.methods {
                guard let operation = item[method] as? [String: Any] else { continue }
                let name = "\(method.uppercased()) \(path)"
                let id = operation["operationId"] as? String ?? ""
                #expect(!id.isEmpty && operationIDs.insert(id).inserted, "\(name): a unique operationId")
                #expect(operation["security"] != nil, "\(name): says how it authenticates")
                // Each {name} in the path is a declared integer id ≥ 1.
                let declared = (shared + ((operation["parameters"] as? [Any]) ?? [])).compactMap { resolve($0, in: parameters) }
                for segment in path.split(separator: "/") where segment.hasPrefix("{") {
                    let key = String(segment.dropFirst().dropLast())
                    let parameter = declared.first { $0["name"] as? String == key && $0["in"] as? String == "path" }
                    let schema = resolve(parameter?["schema"], in: schemas)
                    #expect(schema?["type"] as? String == "integer" && schema?["minimum"] as? Int == 1, "\(name): {\(key)} is an integer ≥ 1")
                }
                // JSON bodies are closed objects, as the strict decoder reads them. A raw body (an
                // attachment's file) takes any type, but has a size limit and parameters to refuse; a
                // file of another tool taken as it is (`x-tack-upload`, a Trello export) is not Tack's
                // to close.
                if let body = operation["requestBody"] as? [String: Any] {
                    let content = body["content"] as? [String: Any]
                    if let json = content?["application/json"] as? [String: Any], operation["x-tack-upload"] as? Bool != true {
                        let schema = resolve(json["schema"], in: schemas)
                        #expect(schema?["additionalProperties"] as? Bool == false, "\(name): the body schema has additionalProperties: false")
                    }
                    let statuses = content?["application/json"] != nil ? ["400", "413", "415"] : ["400", "413"]
                    for status in statuses {
                        #expect((operation["responses"] as? [String: Any])?[status] != nil, "\(name): documents \(status)")
                    }
                }
                // Every error answer uses the shared error schema (a 412 adds the current object to it).
                let answers = try #require(operation["responses"] as? [String: Any], "\(name): responses")
                for (status, answer) in answers where status.hasPrefix("4") {
                    let answer = resolve(answer, in: responses)
                    let schema = ((answer?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                    let expected = status == "412" ? "#/components/schemas/Stale" : "#/components/schemas/Error"
                    #expect(schema?["$ref"] as? String == expected, "\(name) \(status): the shared error schema")
                }
            }
        }
    }

    @Test("GET /api/v1/openapi.json serves the document, as JSON, without authentication")
    func served() async throws {
        let file = try Data(contentsOf: URL(fileURLWithPath: TestServers.root + "/" + OpenAPIController.relativePath))
        let app = Application(router: try Self.router(), logger: WebTestHarness.defaultLogger)
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/openapi.json", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(Data(buffer: response.body) == file, "the bytes of public/openapi.json")
        }
    }
}

/// Where schemathesis showed the code answering outside what the document states, the code was
/// wrong; these pin the fixes.
@Suite("Answers the OpenAPI document promises")
struct OpenAPIPromiseTests {
    @Test("archived takes true or false only; anything else is a 400 naming it, not a silent false")
    func archivedIsABoolean() async throws {
        try await WebTestHarness.withApp { h in
            let alice = try await h.createUser()
            for value in ["true", "false"] {
                let reply = try await h.request(.get, "/api/v1/boards?archived=\(value)", as: alice)
                #expect(reply.status == .ok, "archived=\(value)")
            }
            for value in ["yes", "1", "null", "TRUE", ""] {
                let reply = try await h.request(.get, "/api/v1/boards?archived=\(value)", as: alice)
                #expect(reply.status == .badRequest && reply.errorField == "archived", "archived=\(value): \(reply.status) \(reply.body)")
            }
        }
    }

    @Test("search needs some text: a q of white space and line breaks is a 400 naming q")
    func searchNeedsText() async throws {
        try await WebTestHarness.withApp { h in
            let alice = try await h.createUser()
            let board = try #require(try await h.request(.post, "/api/v1/boards", as: alice, json: ["name": "Roadmap"])["board"]["id"].int64)
            for q in ["%20", "%0A", "%0C", "%09%0D%0A"] {
                let reply = try await h.request(.get, "/api/v1/boards/\(board)/search?q=\(q)", as: alice)
                #expect(reply.status == .badRequest && reply.errorField == "q", "q=\(q): \(reply.status) \(reply.body)")
            }
            #expect(try await h.request(.get, "/api/v1/boards/\(board)/search?q=road", as: alice).status == .ok)
        }
    }

    @Test("the comments of a card that is not on the board are a 404, like the card itself")
    func commentsOfAMissingCard() async throws {
        try await WebTestHarness.withApp { h in
            let alice = try await h.createUser()
            let board = try #require(try await h.request(.post, "/api/v1/boards", as: alice, json: ["name": "Roadmap"])["board"]["id"].int64)
            let other = try #require(try await h.request(.post, "/api/v1/boards", as: alice, json: ["name": "Other"])["board"]["id"].int64)
            let column = try #require(
                try await h.request(.post, "/api/v1/boards/\(other)/columns", as: alice, json: ["name": "To do"])["column"]["id"].int64
            )
            let card = try #require(
                try await h.request(
                    .post,
                    "/api/v1/boards/\(other)/cards",
                    as: alice,
                    json: ["column_id": column, "title": "Elsewhere"]
                )["card"]["id"].int64
            )
            for path in ["/api/v1/boards/\(board)/cards/\(card)/comments", "/api/v1/boards/\(board)/cards/999999999/comments"] {
                let reply = try await h.request(.get, path, as: alice)
                #expect(reply.status == .notFound && reply.errorCode == "card_not_found", "\(path): \(reply.status) \(reply.body)")
            }
            let own = try await h.request(.get, "/api/v1/boards/\(other)/cards/\(card)/comments", as: alice)
            #expect(own.status == .ok && own["items"].array?.isEmpty == true)
        }
    }
}

extension OpenAPIPromiseTests {
    @Test("due_at takes RFC 3339 date-times of real days, and the answer writes them back as RFC 3339")
    func dueDatesAreRFC3339() async throws {
        try await WebTestHarness.withApp { h in
            let alice = try await h.createUser()
            let board = try #require(try await h.request(.post, "/api/v1/boards", as: alice, json: ["name": "Roadmap"])["board"]["id"].int64)
            let column = try #require(
                try await h.request(.post, "/api/v1/boards/\(board)/columns", as: alice, json: ["name": "To do"])["column"]["id"].int64
            )
            let accepted = [
                ("2025-01-31T17:00:00Z", "2025-01-31T17:00:00Z"),
                ("2025-01-31t17:00:00z", "2025-01-31T17:00:00Z"),
                ("2025-01-31T18:00:00.250+01:00", "2025-01-31T17:00:00Z"),
                ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
                ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
            ]
            for (sent, answered) in accepted {
                let reply = try await h.request(
                    .post,
                    "/api/v1/boards/\(board)/cards",
                    as: alice,
                    json: ["column_id": column, "title": "Due", "due_at": sent]
                )
                #expect(reply.status == .created && reply["card"]["due_at"].string == answered, "\(sent): \(reply.status) \(reply.body)")
            }
            let refused = [
                "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-01-31T24:00:00Z",
                "-0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2025-01-31",
                "2025-01-31T17:00Z",
                "2025-01-31 17:00:00Z", "2025-01-31T17:00:00+0100",
            ]
            for sent in refused {
                let reply = try await h.request(
                    .post,
                    "/api/v1/boards/\(board)/cards",
                    as: alice,
                    json: ["column_id": column, "title": "Due", "due_at": sent]
                )
                #expect(reply.status == .badRequest && reply.errorField == "due_at", "\(sent): \(reply.status) \(reply.body)")
            }
        }
    }
}

extension OpenAPIPromiseTests {
    @Test("due dates before the Gregorian reform come back as sent, through PostgreSQL, and do not drift when written back")
    func dueDatesBeforeTheGregorianReform() async throws {
        try await WebTestHarness.withApp { h in
            let alice = try await h.createUser()
            let board = try #require(try await h.request(.post, "/api/v1/boards", as: alice, json: ["name": "Annals"])["board"]["id"].int64)
            let column = try #require(
                try await h.request(.post, "/api/v1/boards/\(board)/columns", as: alice, json: ["name": "To do"])["column"]["id"].int64
            )
            let card = try #require(
                try await h.request(.post, "/api/v1/boards/\(board)/cards", as: alice, json: ["column_id": column, "title": "Old"])["card"]["id"]
                    .int64
            )
            let path = "/api/v1/boards/\(board)/cards/\(card)"
            // 1200 is a leap year in the proleptic Gregorian calendar (divisible by 400), as in the Julian one.
            for sent in ["1200-02-29T12:00:00Z", "0001-01-01T00:00:00Z", "1000-06-15T12:00:00Z", "1582-10-04T00:00:00Z", "1582-10-15T00:00:00Z"] {
                let written = try await h.request(.patch, path, as: alice, json: ["due_at": sent])
                #expect(written.status == .ok && written["card"]["due_at"].string == sent, "\(sent): \(written.body)")
                #expect(written["event"]["data"]["due_at"].string == sent, "the event payload carries the same date: \(written.body)")
                for round in 1...2 {
                    // Read it, write back what was read, read it again: nothing moves.
                    let read = try await h.request(.get, path, as: alice)
                    #expect(read["due_at"].string == sent, "\(sent), read \(round): \(read.body)")
                    let current = try #require(read["due_at"].string)
                    let rewritten = try await h.request(.patch, path, as: alice, json: ["due_at": current, "title": "Old \(round)"])
                    #expect(rewritten.status == .ok && rewritten["card"]["due_at"].string == sent, "\(sent), write \(round): \(rewritten.body)")
                }
                let stored = try await h.rows(
                    "SELECT to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM cards WHERE id = \(card)"
                )
                #expect(try stored.first?.decode(String.self) == sent, "PostgreSQL holds the date that was sent")
            }
            // 1100 is not a leap year in the Gregorian calendar (it was in the Julian one).
            for sent in ["1100-02-29T12:00:00Z", "1500-02-29T00:00:00Z"] {
                let refused = try await h.request(.patch, path, as: alice, json: ["due_at": sent])
                #expect(refused.status == .badRequest && refused.errorField == "due_at", "\(sent): \(refused.status) \(refused.body)")
            }
        }
    }
}
