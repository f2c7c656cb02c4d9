import Foundation
import Hummingbird
import Logging
import NIOCore
import TackCore

/// The pages people use: login, sign-up, boards, a board, its members and webhooks, notifications,
/// settings, API tokens.
///
/// Pages are rendered on the server from `templates/` and read data straight from the stores;
/// every change a page makes goes through `/api/v1` from the ES modules in `public/js/`, with the session cookie
/// and the CSRF token the page carries in `<meta name="csrf-token">`. So the pages need no write
/// path of their own, and authorization is the API's. A page request without a session redirects
/// to `/login?next=…`; a board the caller is not a member of is a 404 page, as in the API.
///
/// A board is rendered once per version, role and day (`renderedBoard`); per request only the
/// layout around it is rendered, which carries the user and the CSRF token.
struct PageController: Sendable {
    /// `templates/`, with `public/`'s fingerprint for asset paths.
    let templates: PageTemplates
    let store: BoardStore
    let tokens: APITokenRepository
    /// `web.signup`: whether the login page links to sign-up.
    let signupPolicy: TackConfiguration.SignupPolicy
    /// `secret_key`, which CSRF tokens are derived with.
    let secretKey: String
    /// Whether this server sends email (`mail.host` set).
    let mailEnabled: Bool
    /// Boards rendered per version, role and day (this process's; see `SnapshotCache`).
    let boards = SnapshotCache<RenderedBoard>()

    /// The page routes, at the root of the site.
    func addRoutes(to router: Router<TackRequestContext>) {
        router.get("/", use: home)
        router.get("/login", use: loginPage)
        router.get("/signup", use: signupPage)
        router.get("/boards", use: boardsPage)
        router.get("/boards/{board}", use: boardPage)
        router.get("/boards/{board}/cards/{card}", use: cardPage)
        router.get("/boards/{board}/members", use: membersPage)
        router.get("/boards/{board}/webhooks", use: webhooksPage)
        router.get("/account/tokens", use: tokensPage)
        router.get("/account/settings", use: settingsPage)
        router.get("/notifications", use: notificationsPage)
        router.get("/search", use: searchPage)
        router.get("/invitations/accept", use: invitationPage)
        router.get("/password_reset", use: passwordResetPage)
    }

    // MARK: - Pages

    /// `/`: the boards, or the login page.
    @Sendable func home(_ request: Request, context: TackRequestContext) -> Response {
        .redirect(to: context.caller == nil ? "/login" : "/boards", type: .found)
    }

    /// `/login`.
    @Sendable func loginPage(_ request: Request, context: TackRequestContext) -> Response {
        authPage("login", title: "Log in", request, context)
    }

    /// `/signup`.
    @Sendable func signupPage(_ request: Request, context: TackRequestContext) -> Response {
        authPage("signup", title: "Sign up", request, context)
    }

    /// `/account/settings`.
    @Sendable func settingsPage(_ request: Request, context: TackRequestContext) -> Response {
        plainPage("settings", title: "Settings", request, context)
    }

    /// `/notifications`.
    @Sendable func notificationsPage(_ request: Request, context: TackRequestContext) -> Response {
        plainPage("notifications", title: "Notifications", request, context)
    }

    /// `/search?q=`: cards on every board of the caller (the page's module asks the API).
    @Sendable func searchPage(_ request: Request, context: TackRequestContext) -> Response {
        plainPage("search", title: "Search", request, context)
    }

    /// `/invitations/accept#LINK`: what the link invites to, and a way to join (signed in: one
    /// button; otherwise: a name and password for a new account, or log in first). The link stays in
    /// the fragment; the page's module asks the API.
    @Sendable func invitationPage(_ request: Request, context: TackRequestContext) -> Response {
        templates.response("invitation", PlainPageModel(layout: layout(title: "Invitation", page: "invitation", session: session(context))))
    }

    /// `/password_reset`: ask for a link by email; `/password_reset#LINK`: choose the new password.
    @Sendable func passwordResetPage(_ request: Request, context: TackRequestContext) -> Response {
        templates.response("password_reset", PlainPageModel(layout: layout(title: "Reset your password", page: "password_reset", session: nil)))
    }

    /// `/login`, `/signup`: the form; someone already logged in goes on to `next`.
    func authPage(_ template: String, title: String, _ request: Request, _ context: TackRequestContext) -> Response {
        let next = Self.safeNext(request.uri.queryParameters.get("next"))
        if session(context) != nil { return .redirect(to: next, type: .found) }
        return templates.response(
            template,
            AuthPageModel(
                layout: layout(title: title, page: template, session: nil),
                next: next,
                nextQuery: next.addingPercentEncoding(withAllowedCharacters: Self.queryValueAllowed) ?? "/boards"
            )
        )
    }

    /// `/boards`: the caller's boards and a form to create one.
    @Sendable func boardsPage(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        let boards = try await store.boards(userID: session.caller.userID, includeArchived: false, limit: BoardRules.boardsPerPage, before: nil)
        let page = layout(title: "Boards", page: "boards", session: session)
        let items = boards.map { BoardsPageModel.Item(id: $0.id, name: $0.name, description: $0.description, role: $0.role.rawValue) }
        return templates.response("boards", BoardsPageModel(layout: page, boards: items))
    }

    /// The board rendered for the caller's role, or nil when it does not exist for them (a 404 page).
    ///
    /// One access check per request (which gives the board's current version), then the board as
    /// rendered for that version, role and day; only when it is not cached yet are the snapshot
    /// read and the board rendered, and that is kept for the requests after (see `SnapshotCache`).
    /// The day is part of the key because due dates show as overdue against it.
    func renderedBoard(_ boardID: Int64, _ session: Session) async throws -> RenderedBoard? {
        guard let access = try await store.access(boardID: boardID, userID: session.caller.userID) else { return nil }
        let now = Date()
        let day = PageModels.day(now)
        if let cached = boards.body(boardID: boardID, version: access.version, role: access.role, variant: day) {
            return cached
        }
        let snapshot: BoardSnapshot
        do {
            snapshot = try await store.snapshot(boardID: boardID, userID: session.caller.userID)
        } catch let error as BoardError {
            if case .notFound = error.kind { return nil }
            throw error
        }
        let rendered = try render(snapshot, now: now)
        // The snapshot in memory is of the order of its JSON, which the content embeds.
        boards.store(
            rendered,
            bytes: 2 * rendered.content.readableBytes,
            boardID: boardID,
            version: snapshot.board.version,
            role: snapshot.board.role,
            variant: day
        )
        return rendered
    }

    /// `board-content.mustache` for a snapshot: the columns and cards, the scripts' templates and
    /// dialogs, and the snapshot as JSON for the scripts. Nothing in it depends on who asks beyond
    /// their role, so one rendering serves every member with that role.
    func render(_ snapshot: BoardSnapshot, now: Date) throws -> RenderedBoard {
        let role = snapshot.board.role
        let canWrite = role >= .member
        let json = try TackRequestContext.encoder.encode(snapshot)
        let model = BoardPageModel(
            id: snapshot.board.id,
            name: snapshot.board.name,
            description: snapshot.board.description,
            version: snapshot.board.version,
            role: role.rawValue,
            canWrite: canWrite,
            canAdmin: role >= .admin,
            columns: PageModels.columns(snapshot, canWrite: canWrite, now: now),
            cardTemplate: CardModel(
                id: 0,
                columnID: 0,
                title: "",
                done: false,
                hasDescription: false,
                commentCount: 0,
                checklist: nil,
                labels: [],
                assignees: [],
                due: nil,
                draggable: canWrite
            ),
            columnTemplate: ColumnModel(id: 0, name: "", cardCount: 0, wipLimit: nil, overLimit: false, cards: []),
            snapshotJSON: PageModels.scriptJSON(json)
        )
        return RenderedBoard(snapshot: snapshot, content: ByteBuffer(string: templates.render("board-content", model)))
    }

    /// `/boards/{id}`: the layout for this caller around the board rendered for their role.
    @Sendable func boardPage(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        guard let boardID = try? context.pathID("board") else { return notFound(session) }
        guard let board = try await renderedBoard(boardID, session) else { return notFound(session) }
        let page = layout(title: board.snapshot.board.name, page: "board", session: session)
        return templates.response("board", PlainPageModel(layout: page), inserting: board.content, at: PageTemplates.boardContentMarker)
    }

    /// `/boards/{id}/cards/{card}`: a card's address; the board page, which opens the card's dialog
    /// (a card no longer on the board is said so there).
    @Sendable func cardPage(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        guard (try? context.pathID("card")) != nil else { return notFound(session) }
        return try await boardPage(request, context: context)
    }

    /// `/boards/{id}/members`: who is on the board; admins add people by email and change roles.
    @Sendable func membersPage(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        guard let boardID = try? context.pathID("board") else { return notFound(session) }
        guard let snapshot = try await renderedBoard(boardID, session)?.snapshot else { return notFound(session) }
        func roles(selected: BoardRole) -> [MembersPageModel.Role] {
            BoardRole.allCases.reversed().map { MembersPageModel.Role(value: $0.rawValue, selected: $0 == selected) }
        }
        let members = snapshot.members.map { m in
            MembersPageModel.Member(
                userID: m.userID,
                name: m.name,
                email: m.email,
                role: m.role.rawValue,
                roles: roles(selected: m.role),
                avatar: PageModels.avatar(m.userID, m.name),
                isSelf: m.userID == session.caller.userID
            )
        }
        let page = layout(title: "Members · \(snapshot.board.name)", page: "members", session: session)
        return templates.response(
            "members",
            MembersPageModel(
                layout: page,
                boardID: boardID,
                boardName: snapshot.board.name,
                canAdmin: snapshot.board.role >= .admin,
                members: members,
                roles: roles(selected: .member)
            )
        )
    }

    /// `/boards/{id}/webhooks`: the board's webhooks and their delivery log (admins; others get 404 or 403 pages).
    @Sendable func webhooksPage(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        guard let boardID = try? context.pathID("board") else { return notFound(session) }
        guard let snapshot = try await renderedBoard(boardID, session)?.snapshot else { return notFound(session) }
        guard snapshot.board.role >= .admin else {
            return templates.response(
                "error",
                ErrorPageModel(
                    layout: layout(title: "Not allowed", page: "error", session: session),
                    status: 403,
                    heading: "Only board admins manage webhooks",
                    message: "Ask an admin or owner of \(snapshot.board.name) to set one up."
                ),
                status: .forbidden
            )
        }
        let page = layout(title: "Webhooks · \(snapshot.board.name)", page: "webhooks", session: session)
        return templates.response("webhooks", WebhooksPageModel(layout: page, boardID: boardID, boardName: snapshot.board.name))
    }

    /// `/notifications`, `/account/settings`: a frame whose content the page module loads from the API.
    func plainPage(_ template: String, title: String, _ request: Request, _ context: TackRequestContext) -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        return templates.response(template, PlainPageModel(layout: layout(title: title, page: template, session: session)))
    }

    /// `/account/tokens`: the caller's API tokens; create (the secret is shown once) and revoke.
    @Sendable func tokensPage(_ request: Request, context: TackRequestContext) async throws -> Response {
        guard let session = session(context) else { return loginRedirect(request) }
        let list = try await tokens.list(userID: session.caller.userID)
        let page = layout(title: "API tokens", page: "tokens", session: session)
        let items = list.map { t in
            TokensPageModel.Token(
                id: t.id,
                name: t.name,
                scope: t.scope == .readWrite ? "read & write" : "read only",
                readWrite: t.scope == .readWrite,
                created: PageModels.timestamp(t.createdAt),
                lastUsed: t.lastUsedAt.map(PageModels.timestamp) ?? "never"
            )
        }
        return templates.response("tokens", TokensPageModel(layout: page, tokens: items, hasTokens: !items.isEmpty))
    }

    // MARK: - Helpers

    /// A browser session: pages are for people, so a caller by API token is sent to log in too.
    struct Session {
        /// Who is logged in.
        let caller: Caller
        /// The session's CSRF token, for the page's `<meta>`.
        let csrfToken: String
    }

    /// The caller's browser session with its CSRF token, or nil (no caller, or one by API token).
    func session(_ context: TackRequestContext) -> Session? {
        guard let caller = context.caller, case .session = caller.method, let token = context.sessionToken else { return nil }
        return Session(caller: caller, csrfToken: CSRFToken.make(sessionToken: token, secret: secretKey))
    }

    /// What the layout shows for this page and session.
    func layout(title: String, page: String, session: Session?) -> LayoutModel {
        LayoutModel(
            title: title,
            page: page,
            assetVersion: templates.assetVersion,
            user: session.map { UserModel(id: $0.caller.userID, name: $0.caller.name, email: $0.caller.email) },
            csrfToken: session?.csrfToken,
            signupOpen: signupPolicy == .open,
            mailEnabled: mailEnabled
        )
    }

    /// 302 to the login page, which comes back here afterwards.
    func loginRedirect(_ request: Request) -> Response {
        var target = request.uri.path
        if let query = request.uri.query, !query.isEmpty { target += "?" + query }
        let encoded = target.addingPercentEncoding(withAllowedCharacters: Self.queryValueAllowed) ?? "/boards"
        return .redirect(to: "/login?next=" + encoded, type: .found)
    }

    /// The 404 page for a board that does not exist or that the caller is not on.
    func notFound(_ session: Session) -> Response {
        templates.response(
            "error",
            ErrorPageModel(
                layout: layout(title: "Not found", page: "error", session: session),
                status: 404,
                heading: "This board does not exist",
                message: "It may have been deleted, or you are not a member of it. Ask one of its admins to add you."
            ),
            status: .notFound
        )
    }

    /// Characters left as they are in a query value (`&`, `=`, `+`, `#`, `?` are encoded).
    static let queryValueAllowed: CharacterSet = {
        var set = CharacterSet.urlQueryAllowed
        set.remove(charactersIn: "&=+#?")
        return set
    }()

    /// `next` if it is a path on this site, else `/boards`: never `//other.host` or a full URL,
    /// so the login page cannot be used to send people elsewhere.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"), next.count <= 2000,
            !next.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" })
        else { return "/boards" }
        return next
    }
}
