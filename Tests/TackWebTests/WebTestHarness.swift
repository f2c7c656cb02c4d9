import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import TackRedis
import TackTestSupport
import Testing

@testable import TackCore
@testable import TackWeb

/// The web role in process, on a database of its own and the shared test Redis, for router tests.
///
/// ```swift
/// try await WebTestHarness.withApp { harness in
///     let alice = try await harness.createUser()
///     let reply = try await harness.request(.post, "/api/v1/boards", as: alice, json: ["name": "Roadmap"])
///     #expect(reply.status == .created)
///     #expect(reply["board"]["name"].string == "Roadmap")
/// }
/// ```
///
/// Each `withApp` creates a fresh database (migrated with the shipped `migrations/`) and drops it
/// afterwards; it uses `TACK_TEST_POSTGRES_URL` and `TACK_TEST_REDIS_URL` (which `./platform test`
/// exports) and fails, never skips, when either is missing. Requests from the helpers carry an
/// `X-Forwarded-For` address unique to the harness, so login throttling counts never leak between
/// tests running in parallel on the same Redis.
struct WebTestHarness: Sendable {
    /// Sends requests straight to the router (`app.test(.router)`).
    let client: any TestClientProtocol
    /// The app's PostgreSQL pool, on the test's own database.
    let postgres: PostgresClient
    /// The app's Redis client.
    let redis: RedisClient
    /// The configuration the app runs with (`settings` applied).
    let config: TackConfiguration
    /// The client address the helpers send (as `X-Forwarded-For`).
    let clientAddress: String
    /// The hasher the app uses (bcrypt's minimum cost, for speed).
    let passwordHasher: PasswordHasher
    /// Logs of the app.
    let logger: Logger

    /// Runs `body` against a fresh app. `settings` are config overrides by key path, e.g.
    /// `["web.signup": "invite", "web.base_url": "https://tack.example"]`. `logger` replaces the
    /// default one (warnings and above to stderr), e.g. to capture logs.
    static func withApp<T: Sendable>(
        settings: [String: String] = [:],
        logger: Logger? = nil,
        _ body: @Sendable (WebTestHarness) async throws -> T
    ) async throws -> T {
        let logger = logger ?? defaultLogger
        // Small pools: many apps run at once against one PostgreSQL.
        let settings = ["database.pool_size": "4", "redis.pool_size": "1"].merging(settings) { $1 }
        return try await TestServers.withDatabase(settings: settings, logger: logger) { config, postgres in
            let redis = try Clients.makeRedis(config, logger: logger)
            return try await TestServers.withRunning(redis, run: { try await $0.run() }) { redis in
                let hasher = PasswordHasher(cost: 4)
                let deps = WebDependencies(
                    config: config,
                    postgres: postgres,
                    redis: redis,
                    migrations: try TestServers.migrations(),
                    passwordHasher: hasher
                )
                let app = Application(router: try buildWebRouter(deps, logger: logger), logger: logger)
                let address = "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
                return try await app.test(.router) { client in
                    try await body(
                        WebTestHarness(
                            client: client,
                            postgres: postgres,
                            redis: redis,
                            config: config,
                            clientAddress: address,
                            passwordHasher: hasher,
                            logger: logger
                        )
                    )
                }
            }
        }
    }

    // MARK: - Users

    /// An email no other test (or earlier run on a long-lived Redis) uses: `name-1a2b3c4d@example.com`.
    static func uniqueEmail(_ name: String = "user") -> String {
        "\(name)-\(UUID().uuidString.prefix(8).lowercased())@example.com"
    }

    /// Creates an account through the repositories (fast: no HTTP, bcrypt at minimum cost) with a
    /// browser session and two API tokens. The email defaults to a unique one.
    func createUser(
        email: String? = nil,
        name: String = "Test User",
        admin: Bool = false,
        password: String = "correct horse battery staple"
    ) async throws -> TestUser {
        let email = email ?? Self.uniqueEmail()
        let user = try await UserRepository(postgres: postgres, hasher: passwordHasher, logger: logger)
            .create(email: email, name: name, password: password, isAdmin: admin)
        let session = try await startSession(userID: user.id)
        let tokens = APITokenRepository(postgres: postgres, logger: logger)
        let readWrite = try await tokens.create(userID: user.id, name: "test read_write", scope: .readWrite)
        let readOnly = try await tokens.create(userID: user.id, name: "test read", scope: .read)
        return TestUser(
            id: user.id,
            email: user.email,
            name: user.name,
            password: password,
            isAdmin: admin,
            bearer: "Bearer " + readWrite.secret,
            readOnlyBearer: "Bearer " + readOnly.secret,
            bearerTokenID: readWrite.token.id,
            readOnlyTokenID: readOnly.token.id,
            session: session
        )
    }

    /// Another browser session for a user, as login would make it.
    func startSession(userID: Int64) async throws -> TestSession {
        let (token, session) = try await SessionRepository(postgres: postgres, ttl: config.web.sessionTTL, logger: logger).create(userID: userID)
        return TestSession(id: session.id, token: token, csrfToken: CSRFToken.make(sessionToken: token, secret: config.secretKey))
    }

    // MARK: - Requests

    /// How a request authenticates as its user.
    enum Via: Sendable {
        /// `Authorization: Bearer` with the read-write token.
        case bearer
        /// `Authorization: Bearer` with the read-only token.
        case readOnly
        /// The session cookie, plus `X-CSRF-Token` on writes.
        case session
        /// The session cookie without the CSRF header.
        case sessionWithoutCSRF
    }

    /// Sends a request as `user` (or anonymously), with a JSON body from `json`.
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        as user: TestUser? = nil,
        via: Via = .bearer,
        json: [String: Any]? = nil,
        headers: HTTPFields = [:]
    ) async throws -> TestReply {
        var body: String?
        if let json {
            body = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        }
        return try await request(method, path, as: user, via: via, body: body, headers: headers)
    }

    /// Sends a request as `user` (or anonymously) with a raw body (sent as application/json unless
    /// `headers` says otherwise).
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        as user: TestUser? = nil,
        via: Via = .bearer,
        body: String?,
        headers: HTTPFields = [:]
    ) async throws -> TestReply {
        var headers = headers
        if let user {
            switch via {
            case .bearer: headers[.authorization] = user.bearer
            case .readOnly: headers[.authorization] = user.readOnlyBearer
            case .session: return try await request(method, path, session: user.session, body: body, headers: headers)
            case .sessionWithoutCSRF: return try await request(method, path, session: user.session, csrf: false, body: body, headers: headers)
            }
        }
        return try await send(method, path, body: body, headers: headers)
    }

    /// Sends a request with a session (e.g. one from `TestReply.session` after a login via HTTP).
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        session: TestSession,
        csrf: Bool = true,
        json: [String: Any]? = nil,
        headers: HTTPFields = [:]
    ) async throws -> TestReply {
        var body: String?
        if let json {
            body = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        }
        return try await request(method, path, session: session, csrf: csrf, body: body, headers: headers)
    }

    /// Sends a request with a session and a raw body.
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        session: TestSession,
        csrf: Bool = true,
        body: String?,
        headers: HTTPFields = [:]
    ) async throws -> TestReply {
        var headers = headers
        headers[.cookie] = session.cookie
        if csrf && ![.get, .head, .options].contains(method) { headers[CSRFToken.header] = session.csrfToken }
        return try await send(method, path, body: body, headers: headers)
    }

    /// The one place requests leave: adds the harness's client address and the JSON content type.
    func send(_ method: HTTPRequest.Method, _ path: String, body: String?, headers: HTTPFields) async throws -> TestReply {
        var headers = headers
        if headers[ClientAddress.forwardedFor] == nil { headers[ClientAddress.forwardedFor] = clientAddress }
        if body != nil && headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let buffer = body.map { ByteBuffer(string: $0) }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: buffer)
        return TestReply(status: response.status, headers: response.headers, body: String(buffer: response.body))
    }

    // MARK: - Database

    /// Runs a query on the app's database and returns its rows (for checks of what is stored).
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await postgres.query(query, logger: logger).collect()
    }

    // MARK: - Setup details

    static let defaultLogger: Logger = {
        var logger = Logger(label: "tack.test.web")
        logger.logLevel = .warning
        return logger
    }()
}

/// An account made by `WebTestHarness.createUser`, with every way to authenticate as it.
struct TestUser: Sendable {
    /// Database id.
    let id: Int64
    /// Normalised email.
    let email: String
    /// Display name.
    let name: String
    /// Its password.
    let password: String
    /// Whether it administers the installation.
    let isAdmin: Bool
    /// `Authorization` value with a read_write API token: "Bearer tack_pat_…".
    let bearer: String
    /// `Authorization` value with a read-scope API token.
    let readOnlyBearer: String
    /// Id of the read_write token.
    let bearerTokenID: Int64
    /// Id of the read token.
    let readOnlyTokenID: Int64
    /// A browser session.
    let session: TestSession
}

/// A browser session: the cookie to send and the CSRF token for writes.
struct TestSession: Sendable {
    /// The session's row id.
    let id: Int64
    /// The secret in the cookie.
    let token: String
    /// The `X-CSRF-Token` value for writes.
    let csrfToken: String
    /// A `Cookie` header value.
    var cookie: String { "\(SessionCookie.name)=\(token)" }
}

/// A response, with its body parsed as JSON when it is JSON.
struct TestReply: Sendable {
    /// Status.
    let status: HTTPResponse.Status
    /// Headers.
    let headers: HTTPFields
    /// The body as text.
    let body: String
    /// The body as JSON (`.null` when empty or not JSON).
    let json: TestJSON

    init(status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.json = (try? JSONDecoder().decode(TestJSON.self, from: Data(body.utf8))) ?? .null
    }

    /// `reply["user"]["email"].string`.
    subscript(key: String) -> TestJSON { json[key] }
    /// The `error.code` of an error body.
    var errorCode: String? { json["error"]["code"].string }
    /// The `error.field` of an error body.
    var errorField: String? { json["error"]["field"].string }
    /// Every `Set-Cookie` header.
    var setCookies: [String] { headers[values: .setCookie] }
    /// The `Set-Cookie` header for the session cookie, if any.
    var sessionCookie: String? { setCookies.first { $0.hasPrefix(SessionCookie.name + "=") } }

    /// The session a login or sign-up answer started: its cookie and `csrf_token`.
    var session: TestSession? {
        guard let header = sessionCookie, let csrf = json["csrf_token"].string else { return nil }
        let value = header.dropFirst(SessionCookie.name.count + 1).prefix { $0 != ";" }
        return TestSession(id: 0, token: String(value), csrfToken: csrf)
    }

    /// One attribute of the session cookie (`Max-Age`, `Path`, …); "" for flags like `HttpOnly`; nil when absent.
    func sessionCookieAttribute(_ name: String) -> String? {
        guard let header = sessionCookie else { return nil }
        for part in header.split(separator: ";").dropFirst() {
            let pieces = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pieces.first?.lowercased() == name.lowercased() { return pieces.count > 1 ? String(pieces[1]) : "" }
        }
        return nil
    }
}

/// A JSON value with forgiving accessors for assertions.
enum TestJSON: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TestJSON])
    case object([String: TestJSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([TestJSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: TestJSON].self))
        }
    }

    /// The member `key` of an object; `.null` otherwise.
    subscript(key: String) -> TestJSON {
        if case .object(let o) = self { return o[key] ?? .null }
        return .null
    }

    /// Element `index` of an array; `.null` otherwise.
    subscript(index: Int) -> TestJSON {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return .null
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    var int: Int? {
        if case .number(let n) = self, n.rounded() == n { return Int(n) }
        return nil
    }
    var int64: Int64? { int.map(Int64.init) }
    var double: Double? {
        if case .number(let n) = self { return n }
        return nil
    }
    var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    var array: [TestJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
    var object: [String: TestJSON]? {
        if case .object(let o) = self { return o }
        return nil
    }
    var isNull: Bool { self == .null }
}
