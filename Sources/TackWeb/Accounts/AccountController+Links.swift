import Foundation
import Hummingbird
import Logging
import TackCore

/// Links sent by email: invitations to a board for people who may have no account yet, and
/// forgotten passwords. Both links are ``SignedLink``s; the pages read them from the URL's fragment
/// (`/invitations/accept#…`, `/password_reset#…`), which browsers never send to a server, and post
/// them in a body, so they stay out of access logs and `Referer` headers.
extension AccountController {
    func addLinkRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/boards/{board}/invitations", use: listInvitations)
        api.post("/boards/{board}/invitations", use: invite)
        api.delete("/boards/{board}/invitations/{invitation}", use: revokeInvitation)
        api.post("/invitations/preview", use: previewInvitation)
        api.post("/invitations/accept", use: acceptInvitation)
        api.post("/auth/password_reset", use: requestPasswordReset)
        api.post("/auth/password_reset/confirm", use: confirmPasswordReset)
    }

    // MARK: - Bodies

    /// `POST /boards/{id}/invitations`.
    struct InviteBody: Decodable {
        var email: String
        var role: BoardRole?
    }

    /// `POST /invitations/preview`.
    struct LinkBody: Decodable {
        var token: String
    }

    /// `POST /invitations/accept`: `name` and `password` create the invitee's account when the
    /// request is not signed in.
    struct AcceptBody: Decodable {
        var token: String
        var name: String?
        var password: String?
    }

    /// `POST /auth/password_reset`.
    struct ResetRequestBody: Decodable {
        var email: String
    }

    /// `POST /auth/password_reset/confirm`.
    struct ResetBody: Decodable {
        var token: String
        var password: String
    }

    /// An invitation as answered; `url` (the link to pass on) only when this server sends no
    /// email, and only in the creation answer.
    struct InvitationReply: Encodable {
        var invitation: Invitation
        var emailed: Bool
        var url: String?
    }

    /// `GET /boards/{id}/invitations`.
    struct InvitationList: Encodable {
        var invitations: [Invitation]
    }

    /// `POST /invitations/preview`.
    struct PreviewReply: Encodable {
        var invitation: InvitationPreview
    }

    /// `POST /invitations/accept`: the board joined; with `user` and `csrf_token` when an account was
    /// created (the cookie is set too).
    struct AcceptReply: Encodable {
        var boardID: Int64
        var user: User?
        var csrfToken: String?
    }

    /// `POST /auth/password_reset`.
    struct ResetRequestReply: Encodable {
        var message: String
    }

    // MARK: - Invitations

    /// `POST /boards/{id}/invitations`: 201; emailed by the worker when mail is configured, else the
    /// answer's `url` is the link to pass on.
    @Sendable func invite(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let boardID = try context.pathID("board")
        let body = try await JSONBody.decode(InviteBody.self, from: request, context: context)
        let (invitation, link) = try await boards.invite(
            boardID: boardID,
            actorID: caller.userID,
            email: body.email,
            role: body.role ?? .member,
            secret: secretKey
        )
        context.logger.info("invitation made", metadata: ["tack.board.id": "\(boardID)", "tack.invitation.id": "\(invitation.id)"])
        let reply = InvitationReply(invitation: invitation, emailed: mailEnabled, url: mailEnabled ? nil : Self.invitationURL(baseURL, link))
        return try self.reply(reply, status: .created, request: request, context: context)
    }

    /// `GET /boards/{id}/invitations`: pending ones (admins).
    @Sendable func listInvitations(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let list = try await boards.invitations(boardID: try context.pathID("board"), actorID: caller.userID)
        return try reply(InvitationList(invitations: list), request: request, context: context)
    }

    /// `DELETE /boards/{id}/invitations/{invitation}`: 204; the link stops working.
    @Sendable func revokeInvitation(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await boards.revokeInvitation(
            boardID: try context.pathID("board"),
            actorID: caller.userID,
            invitationID: try context.pathID("invitation", identifying: "invitation")
        )
        return Self.noContent()
    }

    /// `POST /invitations/preview`: what the link invites to (no sign-in needed: the link is the key).
    @Sendable func previewInvitation(_ request: Request, context: TackRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(LinkBody.self, from: request, context: context)
        let preview = try await boards.invitationPreview(link: body.token, secret: secretKey)
        return try reply(PreviewReply(invitation: preview), request: request, context: context)
    }

    /// `POST /invitations/accept`: signed in, the caller joins the board (200); otherwise `name` and
    /// `password` create an account with the invited address, whatever `web.signup` says, and sign
    /// it in (201 with the cookie).
    @Sendable func acceptInvitation(_ request: Request, context: TackRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(AcceptBody.self, from: request, context: context)
        if let caller = context.caller {
            let boardID = try await boards.acceptInvitation(link: body.token, userID: caller.userID, secret: secretKey)
            context.logger.info("invitation accepted", metadata: ["tack.board.id": "\(boardID)", "tack.user.id": "\(caller.userID)"])
            return try reply(AcceptReply(boardID: boardID), request: request, context: context)
        }
        // Credentials that were refused (a cookie without its CSRF token, a read-only token) are
        // not taken for "no account yet".
        if context.authFailure != nil { _ = try context.requireCaller() }
        let preview = try await boards.invitationPreview(link: body.token, secret: secretKey)
        guard let name = body.name else { throw APIError.invalid("name", "name is required to create your account (or log in first).") }
        guard let password = body.password else {
            throw APIError.invalid("password", "password is required to create your account (or log in first).")
        }
        let user = try await users.create(email: preview.email, name: name, password: password)
        let boardID = try await boards.acceptInvitation(link: body.token, userID: user.id, secret: secretKey, preview: preview)
        context.logger.info("account created by invitation", metadata: ["tack.board.id": "\(boardID)", "tack.user.id": "\(user.id)"])
        let (cookie, csrf) = try await openSession(for: user, replacing: context)
        var response = try reply(AcceptReply(boardID: boardID, user: user, csrfToken: csrf), status: .created, request: request, context: context)
        response.setCookie(cookie)
        return response
    }

    // MARK: - Forgotten passwords

    /// `POST /auth/password_reset`: 202 with the same answer whether or not an account has the
    /// address; the worker emails a link to the account, if there is one.
    @Sendable func requestPasswordReset(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard mailEnabled else {
            throw APIError(
                .conflict,
                code: "mail_not_configured",
                message: "This server sends no email, so a password cannot be reset by email; ask an administrator."
            )
        }
        let body = try await JSONBody.decode(ResetRequestBody.self, from: request, context: context)
        try await resets.request(email: body.email)
        let message =
            "If an account uses this address, an email with a link to choose a new password is on its way. The link works once, for an hour."
        return try reply(ResetRequestReply(message: message), status: .accepted, request: request, context: context)
    }

    /// `POST /auth/password_reset/confirm`: sets the password, ends every session of the account,
    /// and signs in with a new one (200 `{user, csrf_token}` and the cookie). The link works once.
    @Sendable func confirmPasswordReset(_ request: Request, context: TackRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(ResetBody.self, from: request, context: context)
        let user = try await resets.complete(link: body.token, newPassword: body.password)
        context.logger.info("password reset by email link; every session ended", metadata: ["tack.user.id": "\(user.id)"])
        return try await startSession(for: user, status: .ok, replacing: context, request: request)
    }

    // MARK: - Helpers

    static func invitationURL(_ baseURL: String, _ link: String) -> String {
        baseURL + "/invitations/accept#" + link
    }
}
