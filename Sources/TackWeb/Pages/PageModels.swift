import Foundation
import Mustache
import NIOCore
import TackCore

// What the templates see. Plain values only: every `{{…}}` is HTML-escaped by Mustache, and the
// pages contain no `{{{…}}}` except `snapshotJSON`, which `PageModels.scriptJSON` makes safe.
//
// Every model is a `MustacheParent`: Mustache asks it for a key by name and it answers from a
// `switch`, where Mustache would otherwise find the key through `Mirror` reflection, which cost
// most of a board page's time. A key a `switch` does not list is missing from the page, so each
// lists every stored property under its own name (PageTests read the pages).

/// What the layout needs on every page.
struct LayoutModel: Sendable {
    /// The document title (before " · Tack").
    var title: String
    /// `data-page` on `<body>`: which page module of `public/js/pages/` runs.
    var page: String
    /// The first segment of asset paths: `/assets/<assetVersion>/…`.
    var assetVersion: String
    /// The logged-in user, nil on the login and sign-up pages.
    var user: UserModel?
    /// The session's CSRF token, rendered into `<meta name="csrf-token">` for the scripts.
    var csrfToken: String?
    /// Whether sign-up is open (the login page links to it).
    var signupOpen: Bool
    /// Whether this server sends email (the login page offers a password reset by email).
    var mailEnabled: Bool = false
    /// The navigation entry that is current, from `page`.
    var boardsActive: Bool { ["boards", "board", "members", "webhooks"].contains(page) }
    /// The navigation entry that is current, from `page`.
    var tokensActive: Bool { page == "tokens" }
    /// The navigation entry that is current, from `page`.
    var notificationsActive: Bool { page == "notifications" }
    /// The navigation entry that is current, from `page`.
    var settingsActive: Bool { page == "settings" }
}

/// A page whose content the script loads from the API (notifications, settings), or whose content
/// is put in afterwards (the board page: see `PageTemplates.response(_:_:inserting:at:)`).
struct PlainPageModel: Sendable {
    var layout: LayoutModel
}

/// `/boards/{id}/webhooks`.
struct WebhooksPageModel: Sendable {
    var layout: LayoutModel
    var boardID: Int64
    var boardName: String
    /// What a webhook may subscribe to (`BoardEventKinds`).
    var eventKinds: [String] = BoardEventKinds.all
}

/// The user in the header.
struct UserModel: Sendable {
    /// Account id.
    var id: Int64
    /// Display name.
    var name: String
    /// Login email.
    var email: String
    /// Up to two letters for the avatar.
    var initials: String
    /// `avatar-N`, stable per user.
    var colorClass: String

    /// The header's view of an account.
    init(id: Int64, name: String, email: String) {
        self.id = id
        self.name = name
        self.email = email
        self.initials = PageModels.initials(name)
        self.colorClass = PageModels.avatarClass(id)
    }
}

/// `/login` and `/signup`.
struct AuthPageModel: Sendable {
    /// The layout.
    var layout: LayoutModel
    /// Where to go after logging in (already checked to be a path on this site).
    var next: String
    /// `next` encoded for a query value (the link between login and sign-up keeps it).
    var nextQuery: String
}

/// `/boards`.
struct BoardsPageModel: Sendable {
    /// One board tile.
    struct Item: Sendable {
        /// Board id.
        var id: Int64
        /// Board name.
        var name: String
        /// Plain description.
        var description: String
        /// The caller's role.
        var role: String
    }
    /// The layout.
    var layout: LayoutModel
    /// The caller's boards, newest first.
    var boards: [Item]
}

/// A label chip; the colour is applied by the script (inline styles are forbidden by the CSP).
struct LabelModel: Sendable {
    /// Label id.
    var id: Int64
    /// Label name.
    var name: String
    /// `#rrggbb`.
    var color: String
}

/// A small round avatar with initials.
struct AvatarModel: Sendable {
    /// User id.
    var id: Int64
    /// Display name (the tooltip).
    var name: String
    /// The letters shown.
    var initials: String
    /// `avatar-N`.
    var colorClass: String
}

/// A due date: shown as a day (UTC: the pages store due dates at noon UTC of the chosen day).
struct DueModel: Sendable {
    /// ISO 8601, for `<time datetime>`.
    var iso: String
    /// "Mar 5".
    var text: String
    /// Before today and not done.
    var overdue: Bool
}

/// A card's checklist progress on its front.
struct ChecklistBadgeModel: Sendable {
    /// Ticked items.
    var done: Int
    /// All items.
    var total: Int
    /// Every item ticked.
    var complete: Bool
}

/// A card on the board.
struct CardModel: Sendable {
    /// Card id.
    var id: Int64
    /// Its column.
    var columnID: Int64
    /// Title.
    var title: String
    /// Done flag.
    var done: Bool
    /// Whether the description has text (a badge says so).
    var hasDescription: Bool
    /// Comments on it (a badge shows the count when there are any).
    var commentCount: Int
    /// Its checklists' progress (a badge shows `done/total` when it has items).
    var checklist: ChecklistBadgeModel?
    /// Its labels.
    var labels: [LabelModel]
    /// Its assignees.
    var assignees: [AvatarModel]
    /// Its due date.
    var due: DueModel?
    /// Whether the caller may move it (shows the drag handle).
    var draggable: Bool
}

/// A column with its cards.
struct ColumnModel: Sendable {
    /// Column id.
    var id: Int64
    /// Name.
    var name: String
    /// Cards in it.
    var cardCount: Int
    /// Work-in-progress limit.
    var wipLimit: Int?
    /// More cards than the limit.
    var overLimit: Bool
    /// Cards in order.
    var cards: [CardModel]
}

/// The board of `/boards/{id}` (`board-content.mustache`): the same for every member with one
/// role, so it is rendered once per board version (see `RenderedBoard`) and the layout around it
/// per request.
struct BoardPageModel: Sendable {
    /// Board id (`data-board-id`).
    var id: Int64
    /// Board name.
    var name: String
    /// Plain description.
    var description: String
    /// The snapshot's version (`data-version`).
    var version: Int64
    /// The caller's role.
    var role: String
    /// Member or above: editing controls shown.
    var canWrite: Bool
    /// Admin or above.
    var canAdmin: Bool
    /// Columns with their cards.
    var columns: [ColumnModel]
    /// An empty card for the scripts' `<template>`: the one card markup, rendered by the same partial.
    var cardTemplate: CardModel
    /// An empty column for the scripts' `<template>`.
    var columnTemplate: ColumnModel
    /// The snapshot as JSON for the scripts, escaped for a `<script type="application/json">` block.
    var snapshotJSON: String
}

/// A board rendered for one role at one version on one day, as `PageController` keeps it.
struct RenderedBoard: Sendable {
    /// What it was rendered from: the members and webhooks pages read names and members here.
    var snapshot: BoardSnapshot
    /// `board-content.mustache` rendered (the columns and cards, the dialogs, the snapshot JSON).
    var content: ByteBuffer
}

/// `/boards/{id}/members`.
struct MembersPageModel: Sendable {
    /// An entry of a role menu.
    struct Role: Sendable {
        /// Role name.
        var value: String
        /// Preselected in the menu.
        var selected: Bool
    }
    /// One member row.
    struct Member: Sendable {
        /// User id.
        var userID: Int64
        /// Display name.
        var name: String
        /// Email.
        var email: String
        /// Role on the board.
        var role: String
        /// The role menu, this role selected.
        var roles: [Role]
        /// Avatar.
        var avatar: AvatarModel
        /// The caller (no controls on oneself).
        var isSelf: Bool
    }
    /// The layout.
    var layout: LayoutModel
    /// Board id.
    var boardID: Int64
    /// Board name.
    var boardName: String
    /// Admin or above: may add, change and remove members.
    var canAdmin: Bool
    /// Members.
    var members: [Member]
    /// The role menu of the add form.
    var roles: [Role]
}

/// `/account/tokens`.
struct TokensPageModel: Sendable {
    /// One token row (never the secret).
    struct Token: Sendable {
        /// Token id (to revoke).
        var id: Int64
        /// The owner's label.
        var name: String
        /// Scope in words.
        var scope: String
        /// Read-write scope.
        var readWrite: Bool
        /// Creation time (UTC).
        var created: String
        /// Last use (UTC) or "never".
        var lastUsed: String
    }
    /// The layout.
    var layout: LayoutModel
    /// Live tokens, newest first.
    var tokens: [Token]
    /// Whether there is any (the table is hidden otherwise).
    var hasTokens: Bool
}

/// An error page (404 and friends).
struct ErrorPageModel: Sendable {
    /// The layout.
    var layout: LayoutModel
    /// HTTP status shown.
    var status: Int
    /// Heading.
    var heading: String
    /// What to do.
    var message: String
}

/// Helpers that turn domain values into what the templates show.
enum PageModels {
    /// "Ada Lovelace" → "AL"; "ada" → "A".
    static func initials(_ name: String) -> String {
        let words = name.split(whereSeparator: { $0.isWhitespace }).prefix(2)
        let letters = words.compactMap { $0.first.map { String($0).uppercased() } }.joined()
        return letters.isEmpty ? "?" : letters
    }

    /// One of eight avatar colours, stable per user (a class: the CSP forbids inline styles).
    static func avatarClass(_ id: Int64) -> String {
        "avatar-\(Int(id.magnitude % 8))"
    }

    /// The board markup's view of a snapshot.
    static func columns(_ snapshot: BoardSnapshot, canWrite: Bool, now: Date = Date()) -> [ColumnModel] {
        let labels = Dictionary(uniqueKeysWithValues: snapshot.labels.map { ($0.id, $0) })
        let members = Dictionary(uniqueKeysWithValues: snapshot.members.map { ($0.userID, $0) })
        let byColumn = Dictionary(grouping: snapshot.cards, by: \.columnID)
        return snapshot.columns.map { column in
            let cards = (byColumn[column.id] ?? []).map { card in
                self.card(card, labels: labels, members: members, canWrite: canWrite, now: now)
            }
            return ColumnModel(
                id: column.id,
                name: column.name,
                cardCount: cards.count,
                wipLimit: column.wipLimit,
                overLimit: column.wipLimit.map { cards.count > $0 } ?? false,
                cards: cards
            )
        }
    }

    /// One card's view: its labels and assignees resolved to names and colours.
    static func card(_ card: Card, labels: [Int64: Label], members: [Int64: BoardMember], canWrite: Bool, now: Date) -> CardModel {
        CardModel(
            id: card.id,
            columnID: card.columnID,
            title: card.title,
            done: card.done,
            hasDescription: !card.description.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
            commentCount: card.commentCount,
            checklist: card.checklistProgress.total == 0
                ? nil
                : ChecklistBadgeModel(
                    done: card.checklistProgress.done,
                    total: card.checklistProgress.total,
                    complete: card.checklistProgress.done == card.checklistProgress.total
                ),
            labels: card.labels.compactMap { labels[$0] }.map { LabelModel(id: $0.id, name: $0.name, color: $0.color) },
            assignees: card.assignees.compactMap { members[$0] }.map { avatar($0.userID, $0.name) },
            due: card.dueAt.map { due($0, hasTime: card.dueHasTime, done: card.done, now: now) },
            draggable: canWrite
        )
    }

    /// The avatar of a user.
    static func avatar(_ id: Int64, _ name: String) -> AvatarModel {
        AvatarModel(id: id, name: name, initials: initials(name), colorClass: avatarClass(id))
    }

    /// A due date as its UTC day ("Mar 5"); overdue when that day is before today (UTC) and the card is open.
    /// A due date as the server renders it (in UTC; the page's script rewrites it in the reader's
    /// language and time zone): "Mar 4", or "Mar 4, 14:30 UTC" with a time. A day is overdue from
    /// the next day; a time from that instant.
    static func due(_ date: Date, hasTime: Bool = false, done: Bool, now: Date) -> DueModel {
        // By hand in the proleptic Gregorian calendar, as the API writes dates (Foundation's
        // calendars are Julian before 1582).
        let day = CivilCalendar.days(of: date)
        let today = CivilCalendar.days(of: now)
        let (year, month, dayOfMonth) = CivilCalendar.date(fromDays: day)
        let iso = Timestamp.string(from: date)
        var text = "\(monthNames[month - 1]) \(dayOfMonth)"
        if year != CivilCalendar.date(fromDays: today).year { text += ", \(iso.prefix(4))" }
        if hasTime { text += ", \(iso.dropFirst(11).prefix(5)) UTC" }
        return DueModel(iso: iso, text: text, overdue: !done && (hasTime ? date < now : day < today))
    }

    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The UTC day of `date`, counted from 1970-01-01: what a rendered board depends on besides
    /// its version, since due dates turn overdue as days pass.
    static func day(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// A date and time for lists ("2025-03-05 14:02 UTC").
    static func timestamp(_ date: Date) -> String {
        // Truncated to the minute, as a "yyyy-MM-dd HH:mm" DateFormatter would.
        let text = Timestamp.string(from: Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60))
        return "\(text.prefix(10)) \(text.dropFirst(11).prefix(5)) UTC"
    }

    /// JSON that can sit inside `<script type="application/json">`: `<`, `>` and `&` become
    /// `\u003c`-style escapes (still the same JSON), so no string in it can close the element or
    /// open a comment; U+2028/2029 are escaped for old parsers.
    static func scriptJSON(_ data: Data) -> String {
        var out = ""
        for scalar in String(decoding: data, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

// MARK: - Direct key lookup for Mustache (see the note at the top)

extension LayoutModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "title": return self.title
        case "page": return self.page
        case "assetVersion": return self.assetVersion
        case "user": return self.user
        case "csrfToken": return self.csrfToken
        case "signupOpen": return self.signupOpen
        case "mailEnabled": return self.mailEnabled
        case "boardsActive": return self.boardsActive
        case "tokensActive": return self.tokensActive
        case "notificationsActive": return self.notificationsActive
        case "settingsActive": return self.settingsActive
        default: return nil
        }
    }
}

extension PlainPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        default: return nil
        }
    }
}

extension WebhooksPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        case "boardID": return self.boardID
        case "boardName": return self.boardName
        case "eventKinds": return self.eventKinds
        default: return nil
        }
    }
}

extension UserModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "email": return self.email
        case "initials": return self.initials
        case "colorClass": return self.colorClass
        default: return nil
        }
    }
}

extension AuthPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        case "next": return self.next
        case "nextQuery": return self.nextQuery
        default: return nil
        }
    }
}

extension BoardsPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        case "boards": return self.boards
        default: return nil
        }
    }
}

extension BoardsPageModel.Item: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "description": return self.description
        case "role": return self.role
        default: return nil
        }
    }
}

extension LabelModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "color": return self.color
        default: return nil
        }
    }
}

extension AvatarModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "initials": return self.initials
        case "colorClass": return self.colorClass
        default: return nil
        }
    }
}

extension DueModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "iso": return self.iso
        case "text": return self.text
        case "overdue": return self.overdue
        default: return nil
        }
    }
}

extension ChecklistBadgeModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "done": return self.done
        case "total": return self.total
        case "complete": return self.complete
        default: return nil
        }
    }
}

extension CardModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "columnID": return self.columnID
        case "title": return self.title
        case "done": return self.done
        case "hasDescription": return self.hasDescription
        case "commentCount": return self.commentCount
        case "hasComments": return self.commentCount > 0
        case "checklist": return self.checklist
        case "labels": return self.labels
        case "assignees": return self.assignees
        case "due": return self.due
        case "draggable": return self.draggable
        default: return nil
        }
    }
}

extension ColumnModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "cardCount": return self.cardCount
        case "wipLimit": return self.wipLimit
        case "overLimit": return self.overLimit
        case "cards": return self.cards
        default: return nil
        }
    }
}

extension BoardPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "description": return self.description
        case "version": return self.version
        case "role": return self.role
        case "canWrite": return self.canWrite
        case "canAdmin": return self.canAdmin
        case "columns": return self.columns
        case "cardTemplate": return self.cardTemplate
        case "columnTemplate": return self.columnTemplate
        case "snapshotJSON": return self.snapshotJSON
        default: return nil
        }
    }
}

extension MembersPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        case "boardID": return self.boardID
        case "boardName": return self.boardName
        case "canAdmin": return self.canAdmin
        case "members": return self.members
        case "roles": return self.roles
        default: return nil
        }
    }
}

extension MembersPageModel.Role: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "value": return self.value
        case "selected": return self.selected
        default: return nil
        }
    }
}

extension MembersPageModel.Member: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "userID": return self.userID
        case "name": return self.name
        case "email": return self.email
        case "role": return self.role
        case "roles": return self.roles
        case "avatar": return self.avatar
        case "isSelf": return self.isSelf
        default: return nil
        }
    }
}

extension TokensPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        case "tokens": return self.tokens
        case "hasTokens": return self.hasTokens
        default: return nil
        }
    }
}

extension TokensPageModel.Token: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "id": return self.id
        case "name": return self.name
        case "scope": return self.scope
        case "readWrite": return self.readWrite
        case "created": return self.created
        case "lastUsed": return self.lastUsed
        default: return nil
        }
    }
}

extension ErrorPageModel: MustacheParent {
    /// The value of the template key `key`, without reflection.
    func child(named key: String) -> Any? {
        switch key {
        case "layout": return self.layout
        case "status": return self.status
        case "heading": return self.heading
        case "message": return self.message
        default: return nil
        }
    }
}
