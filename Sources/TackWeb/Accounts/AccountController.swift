import Foundation
import Hummingbird
import Logging
import TackCore

/// Accounts under `/api/v1`: sign-up, login, logout (one session or all), the caller's profile,
/// password change, personal API tokens, account creation by administrators, and (in
/// `AccountController+Links.swift`) invitations and forgotten passwords.
///
/// Every response here carries `Cache-Control: no-store`: they hold CSRF tokens, API tokens or
/// personal data that no cache should keep.
struct AccountController: Sendable {
    let users: UserRepository
    let sessions: SessionRepository
    let tokens: APITokenRepository
    let throttle: LoginThrottle
    let cookie: SessionCookie
    /// `web.signup`: whether anyone may sign up.
    let signupPolicy: TackConfiguration.SignupPolicy
    /// `secret_key`, which CSRF tokens and emailed links are derived with.
    let secretKey: String
    /// Boards, for invitations.
    let boards: BoardStore
    /// Forgotten-password requests and links.
    let resets: PasswordResets
    /// Whether this deployment sends email (`mail.host` set): invitations are emailed, and a
    /// password can be reset by email.
    let mailEnabled: Bool
    /// `web.base_url` without a trailing slash, which invitation links start with.
    let baseURL: String

    /// Adds the routes to the `/api/v1` group.
    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.post("/auth/signup", use: signup)
        api.post("/auth/login", use: login)
        api.post("/auth/logout", use: logout)
        api.post("/auth/logout_all", use: logoutAll)
        api.get("/me", use: me)
        api.put("/me/password", use: changePassword)
        api.get("/me/tokens", use: listTokens)
        api.post("/me/tokens", use: createToken)
        api.delete("/me/tokens/{id}", use: revokeToken)
        api.post("/users", use: createUser)
        addLinkRoutes(to: api)
    }

    // MARK: - Bodies

    /// `POST /auth/signup`.
    struct SignupBody: Decodable {
        var email: String
        var name: String
        var password: String
    }

    /// `POST /auth/login`.
    struct LoginBody: Decodable {
        var email: String
        var password: String
    }

    /// `PUT /me/password`.
    struct PasswordBody: Decodable {
        var currentPassword: String
        var newPassword: String
    }

    /// `POST /me/tokens`; `scope` is checked by hand for a clearer message than an enum would give.
    struct TokenBody: Decodable {
        var name: String
        var scope: String
    }

    /// `POST /users` (administrators).
    struct NewUserBody: Decodable {
        var email: String
        var name: String
        var password: String
        var isAdmin: Bool?
    }

    /// `{user, csrf_token}`: what login and sign-up answer.
    struct SessionReply: Encodable {
        var user: User
        var csrfToken: String
    }

    /// `GET /me`.
    struct MeReply: Encodable {
        var user: User
        var csrfToken: String?
        var authenticatedBy: String
        enum CodingKeys: CodingKey {
            case user
            case csrfToken
            case authenticatedBy
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(user, forKey: .user)
            try c.encode(csrfToken, forKey: .csrfToken)  // null for token callers, not absent
            try c.encode(authenticatedBy, forKey: .authenticatedBy)
        }
    }

    /// A token as listed; `token` only in the creation answer.
    struct TokenReply: Encodable {
        var id: Int64
        var name: String
        var scope: APITokenScope
        var createdAt: Date
        var lastUsedAt: Date?
        var token: String?
        enum CodingKeys: CodingKey {
            case id, name, scope, token
            case createdAt
            case lastUsedAt
        }
        init(_ t: APIToken, secret: String? = nil) {
            id = t.id
            name = t.name
            scope = t.scope
            createdAt = t.createdAt
            lastUsedAt = t.lastUsedAt
            token = secret
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(name, forKey: .name)
            try c.encode(scope, forKey: .scope)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(lastUsedAt, forKey: .lastUsedAt)
            try c.encodeIfPresent(token, forKey: .token)
        }
    }

    /// `GET /me/tokens`.
    struct TokenList: Encodable {
        var tokens: [TokenReply]
    }

    /// `POST /users`.
    struct UserReply: Encodable {
        var user: User
    }

    // MARK: - Handlers

    /// `POST /auth/signup`: 201 `{user, csrf_token}` and the cookie; 403 `signup_closed` when invite-only.
    @Sendable func signup(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard signupPolicy == .open else {
            throw APIError(.forbidden, code: "signup_closed", message: "Sign-up is by invitation: ask an administrator for an account.")
        }
        let body = try await JSONBody.decode(SignupBody.self, from: request, context: context)
        let user = try await users.create(email: body.email, name: body.name, password: body.password)
        context.logger.info("account created by sign-up", metadata: ["tack.user.id": "\(user.id)"])
        return try await startSession(for: user, status: .created, replacing: context, request: request)
    }

    /// `POST /auth/login`: 200 `{user, csrf_token}` and the cookie; 401 `invalid_credentials`; 429 when throttled.
    @Sendable func login(_ request: Request, context: TackRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(LoginBody.self, from: request, context: context)
        // Longer than any account's (in bytes, which costs nothing to count): refused before the
        // throttle and the password check spend time on it.
        if body.email.utf8.count > 4 * AccountRules.maximumEmailLength {
            throw APIError.invalid("email", "email must be at most \(AccountRules.maximumEmailLength) characters.")
        }
        if body.password.utf8.count > 4 * AccountRules.passwordLength.upperBound {
            throw APIError.invalid("password", "password must be at most \(AccountRules.passwordLength.upperBound) characters.")
        }
        let address = ClientAddress.resolve(peer: context.peerAddress, forwardedFor: request.headers[ClientAddress.forwardedFor])
        try await throttle.check(email: body.email, address: address, logger: context.logger)
        guard let user = try await users.authenticate(email: body.email, password: body.password) else {
            await throttle.recordFailure(email: body.email, address: address, logger: context.logger)
            throw APIError(.unauthorized, code: "invalid_credentials", message: "Wrong email or password.")
        }
        await throttle.recordSuccess(email: body.email, logger: context.logger)
        return try await startSession(for: user, status: .ok, replacing: context, request: request)
    }

    /// `POST /auth/logout`: ends this session, 204.
    @Sendable func logout(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard case .session(let id) = caller.method else {
            throw APIError(
                .badRequest,
                code: "no_session",
                message: "This request is authenticated by an API token, not a session; revoke a token with DELETE /api/v1/me/tokens/{id}."
            )
        }
        try await sessions.delete(id: id)
        var response = Self.noContent()
        response.setCookie(cookie.clear())
        return response
    }

    /// `POST /auth/logout_all`: ends every session of the caller, 204.
    @Sendable func logoutAll(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let ended = try await sessions.deleteAll(userID: caller.userID)
        context.logger.info("all sessions ended", metadata: ["tack.user.id": "\(caller.userID)", "tack.sessions.ended": "\(ended)"])
        var response = Self.noContent()
        if case .session = caller.method { response.setCookie(cookie.clear()) }
        return response
    }

    /// `GET /me`: `{user, csrf_token, authenticated_by}`.
    @Sendable func me(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard let user = try await users.find(id: caller.userID) else { throw APIError.unauthenticated }
        let csrf = context.sessionToken.map { CSRFToken.make(sessionToken: $0, secret: secretKey) }
        let by: String
        if case .session = caller.method { by = "session" } else { by = "token" }
        return try reply(MeReply(user: user, csrfToken: csrf, authenticatedBy: by), request: request, context: context)
    }

    /// `PUT /me/password`: 204; other sessions end.
    @Sendable func changePassword(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let body = try await JSONBody.decode(PasswordBody.self, from: request, context: context)
        // A stolen session must not become a way to guess the password: same counters as login.
        let address = ClientAddress.resolve(peer: context.peerAddress, forwardedFor: request.headers[ClientAddress.forwardedFor])
        try await throttle.check(email: caller.email, address: address, logger: context.logger)
        var keep: Int64?
        if case .session(let id) = caller.method { keep = id }
        do {
            try await users.changePassword(
                userID: caller.userID,
                currentPassword: body.currentPassword,
                newPassword: body.newPassword,
                keepingSession: keep
            )
        } catch let error as AccountError where error.code == .wrongPassword {
            await throttle.recordFailure(email: caller.email, address: address, logger: context.logger)
            throw error
        }
        context.logger.info("password changed; other sessions ended", metadata: ["tack.user.id": "\(caller.userID)"])
        return Self.noContent()
    }

    /// `GET /me/tokens`: live tokens, without secrets.
    @Sendable func listTokens(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let list = try await tokens.list(userID: caller.userID)
        return try reply(TokenList(tokens: list.map { TokenReply($0) }), request: request, context: context)
    }

    /// `POST /me/tokens`: 201 with the secret, shown this once.
    @Sendable func createToken(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard case .session = caller.method else {
            throw APIError(.forbidden, code: "session_required", message: "API tokens are created from a logged-in session, not with another token.")
        }
        let body = try await JSONBody.decode(TokenBody.self, from: request, context: context)
        guard let scope = APITokenScope(rawValue: body.scope) else {
            throw APIError.invalid("scope", "scope must be \"read\" or \"read_write\".")
        }
        let (secret, token) = try await tokens.create(userID: caller.userID, name: body.name, scope: scope)
        context.logger.info("API token created", metadata: ["tack.user.id": "\(caller.userID)", "tack.token.id": "\(token.id)"])
        return try reply(TokenReply(token, secret: secret), status: .created, request: request, context: context)
    }

    /// `DELETE /me/tokens/{id}`: 204, or 404 for a token that is not the caller's live token.
    @Sendable func revokeToken(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.pathID("id", identifying: "token")
        guard try await tokens.revoke(id: id, userID: caller.userID) else { throw APIError.notFound("token") }
        context.logger.info("API token revoked", metadata: ["tack.user.id": "\(caller.userID)", "tack.token.id": "\(id)"])
        return Self.noContent()
    }

    /// `POST /users`: administrators create accounts (the way in when sign-up is invite-only).
    @Sendable func createUser(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard caller.isAdmin else { throw APIError.forbidden("Only administrators create accounts.") }
        let body = try await JSONBody.decode(NewUserBody.self, from: request, context: context)
        let user = try await users.create(email: body.email, name: body.name, password: body.password, isAdmin: body.isAdmin ?? false)
        context.logger.info("account created by an administrator", metadata: ["tack.user.id": "\(user.id)", "tack.admin.id": "\(caller.userID)"])
        return try reply(UserReply(user: user), status: .created, request: request, context: context)
    }

    // MARK: - Helpers

    /// A fresh session (never the token the browser came with: no session fixation), its cookie,
    /// and `{user, csrf_token}`. A session the request was made with is ended.
    func startSession(
        for user: User,
        status: HTTPResponse.Status,
        replacing context: TackRequestContext,
        request: Request
    ) async throws -> Response {
        let (cookie, csrf) = try await openSession(for: user, replacing: context)
        var response = try reply(SessionReply(user: user, csrfToken: csrf), status: status, request: request, context: context)
        response.setCookie(cookie)
        return response
    }

    /// A fresh session for `user` (ending the one the request came with): its cookie and CSRF token.
    func openSession(for user: User, replacing context: TackRequestContext) async throws -> (Cookie, String) {
        if case .session(let old)? = context.caller?.method { try await sessions.delete(id: old) }
        let (token, session) = try await sessions.create(userID: user.id)
        return (cookie.issue(token, expiresAt: session.expiresAt), CSRFToken.make(sessionToken: token, secret: secretKey))
    }

    func reply(_ value: some Encodable, status: HTTPResponse.Status = .ok, request: Request, context: TackRequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(value, from: request, context: context)
        response.status = status
        response.headers[.cacheControl] = "no-store"
        return response
    }

    static func noContent() -> Response {
        Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }
}
