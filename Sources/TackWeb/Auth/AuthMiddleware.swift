import Foundation
import Hummingbird
import Logging
import TackCore

/// Establishes `context.caller` from an `Authorization: Bearer tack_pat_…` header or, failing
/// that, the `tack_session` cookie. Bad, expired or revoked credentials leave no caller: endpoints
/// that need one answer 401 through `requireCaller()`; public endpoints (login, sign-up) still work.
///
/// Writes (POST, PUT, PATCH, DELETE) are guarded here, so no endpoint can forget:
/// - by cookie, they need `X-CSRF-Token` (see `CSRFToken`); without it the cookie is not
///   accepted for the request and `requireCaller()` answers 403 `csrf_failed`;
/// - by a read-scope token, they are refused the same way with 403 `insufficient_scope`.
/// A token in a header is exempt from CSRF: another site cannot make a browser send one.
///
/// A session used after its renewal interval gets a fresh cookie with the extended lifetime; an
/// invalid session cookie is cleared.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = TackRequestContext

    let sessions: SessionRepository
    let tokens: APITokenRepository
    let cookie: SessionCookie
    let secret: String
    /// Where CSRF refusals are reported.
    let audit: AuditLog

    /// Methods that change something: CSRF-checked, refused to read-scope tokens.
    static let unsafeMethods: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]

    /// Sets the caller (or `authFailure`) and passes the request on.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let unsafe = Self.unsafeMethods.contains(request.method)

        if let authorization = request.headers[.authorization] {
            guard authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
                context.authFailure = APIError(
                    .unauthorized,
                    code: "unauthenticated",
                    message: "Send an API token as `Authorization: Bearer tack_pat_…`."
                )
                return try await next(request, context)
            }
            let secret = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
            guard let found = try await tokens.lookup(secret: secret) else {
                context.authFailure = APIError(.unauthorized, code: "unauthenticated", message: "The API token is unknown or revoked.")
                return try await next(request, context)
            }
            if unsafe && found.token.scope != .readWrite {
                context.authFailure = APIError(
                    .forbidden,
                    code: "insufficient_scope",
                    message: "This API token may only read; create a read_write token to make changes."
                )
                return try await next(request, context)
            }
            context.caller = Caller(
                userID: found.user.id,
                name: found.user.name,
                email: found.user.email,
                isAdmin: found.user.isAdmin,
                method: .token(id: found.token.id, readWrite: found.token.scope == .readWrite)
            )
            context.logger[metadataKey: "tack.user.id"] = "\(found.user.id)"
            return try await next(request, context)
        }

        guard let token = request.cookies[SessionCookie.name]?.value, !token.isEmpty else {
            return try await next(request, context)
        }
        guard let found = try await sessions.lookup(token: token) else {
            return try await Self.respond(request, context, next, setting: cookie.clear())
        }
        if unsafe && !CSRFToken.isValid(request.headers[CSRFToken.header], sessionToken: token, secret: secret) {
            let address = ClientAddress.resolve(peer: context.peerAddress, forwardedFor: request.headers[ClientAddress.forwardedFor])
            audit.record(
                .csrfRefused,
                key: "\(found.user.id)",
                logger: context.logger,
                metadata: [
                    "tack.user.id": "\(found.user.id)", "tack.client": "\(address)", "tack.request.method": "\(request.method)",
                    "tack.request.path": "\(request.uri.path)",
                ]
            )
            context.authFailure = APIError(
                .forbidden,
                code: "csrf_failed",
                message: "Missing or wrong X-CSRF-Token header; use the csrf_token from the login or /api/v1/me response."
            )
            return try await next(request, context)
        }
        context.caller = Caller(
            userID: found.user.id,
            name: found.user.name,
            email: found.user.email,
            isAdmin: found.user.isAdmin,
            method: .session(id: found.session.id)
        )
        context.sessionToken = token
        context.logger[metadataKey: "tack.user.id"] = "\(found.user.id)"
        guard found.renewed else { return try await next(request, context) }
        return try await Self.respond(request, context, next, setting: cookie.issue(token, expiresAt: found.session.expiresAt))
    }

    /// Runs the rest of the chain and adds `cookie` to its answer, error answers included, unless
    /// the handler set the session cookie itself (logout clears it; do not set it back).
    static func respond(
        _ request: Request,
        _ context: Context,
        _ next: (Request, Context) async throws -> Response,
        setting cookie: Cookie
    ) async throws -> Response {
        do {
            var response = try await next(request, context)
            if !response.headers[values: .setCookie].contains(where: { $0.hasPrefix(SessionCookie.name + "=") }) {
                response.setCookie(cookie)
            }
            return response
        } catch let error as any HTTPResponseError {
            var answer = APIError(answering: error)
            answer.headers[values: .setCookie].append(cookie.description)
            throw answer
        }
    }
}
