import Foundation

/// A member's role on a board, from least to most trusted.
public enum BoardRole: String, Codable, Sendable, CaseIterable, Comparable {
    /// Reads everything, writes nothing.
    case viewer
    /// Creates and edits columns, cards, comments and labels.
    case member
    /// Also edits the board and manages members below owner.
    case admin
    /// Also deletes the board and grants or revokes ownership.
    case owner

    var rank: Int {
        switch self {
        case .viewer: return 0
        case .member: return 1
        case .admin: return 2
        case .owner: return 3
        }
    }

    /// Orders roles by trust.
    public static func < (lhs: BoardRole, rhs: BoardRole) -> Bool { lhs.rank < rhs.rank }
}

/// What a member may do on a board, and the board's version when that was read.
public struct BoardAccess: Sendable, Equatable {
    /// The member's role.
    public var role: BoardRole
    /// The board's current version.
    public var version: Int64

    /// Creates an access.
    public init(role: BoardRole, version: Int64) {
        self.role = role
        self.version = version
    }
}

/// A board as listed and in snapshots.
public struct Board: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Name.
    public var name: String
    /// Plain description.
    public var description: String
    /// Current version: the number of events so far.
    public var version: Int64
    /// The version at which its own name, description or archived flag last changed (its `ETag`).
    public var changedVersion: Int64
    /// The caller's role on it.
    public var role: BoardRole
    /// Creation time.
    public var createdAt: Date
    /// Whether it is archived.
    public var archived: Bool

}

/// A column of a board.
public struct BoardColumn: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Board.
    public var boardID: Int64
    /// Name.
    public var name: String
    /// Ordering key (see `Position`).
    public var position: String
    /// Work-in-progress limit, if any.
    public var wipLimit: Int?
    /// The board version at which it last changed (its `ETag`).
    public var version: Int64
    /// Archived with its cards: off the board until restored.
    public var archived: Bool = false

}

/// A card.
public struct Card: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Board.
    public var boardID: Int64
    /// Column.
    public var columnID: Int64
    /// Title.
    public var title: String
    /// Markdown description (rendered safely by the pages).
    public var description: String
    /// Ordering key within the column.
    public var position: String
    /// Due date.
    public var dueAt: Date?
    /// Whether `dueAt` is a time of day someone chose; false: a day (stored at noon UTC).
    public var dueHasTime: Bool = false
    /// Done flag.
    public var done: Bool
    /// Archived cards are hidden from the board.
    public var archived: Bool
    /// Assigned user ids.
    public var assignees: [Int64]
    /// Label ids.
    public var labels: [Int64]
    /// Creator.
    public var createdBy: Int64?
    /// Creation time.
    public var createdAt: Date
    /// Last change.
    public var updatedAt: Date
    /// The board version at which it last changed (its `ETag`).
    public var version: Int64
    /// Comments on it (read with it; the card front shows the count).
    public var commentCount: Int = 0
    /// Ticked and all items of its checklists (read with it; the card front shows `done/total`).
    public var checklistProgress = ChecklistProgress(total: 0, done: 0)
    /// The attachment shown on the card's front (an image of the card), if any.
    public var coverAttachmentID: Int64? = nil

}

/// A comment on a card.
public struct Comment: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Card.
    public var cardID: Int64
    /// Author (nil once the account is deleted).
    public var authorID: Int64?
    /// Markdown body.
    public var body: String
    /// Creation time.
    public var createdAt: Date
    /// Last edit.
    public var editedAt: Date?
    /// The board version at which it last changed (its `ETag`).
    public var version: Int64

}

/// A label of a board.
public struct Label: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Board.
    public var boardID: Int64
    /// Name, unique on the board.
    public var name: String
    /// Colour as `#rrggbb`.
    public var color: String
    /// The board version at which it last changed (its `ETag`).
    public var version: Int64

}

/// A member of a board.
public struct BoardMember: Codable, Sendable, Equatable {
    /// User id.
    public var userID: Int64
    /// Display name.
    public var name: String
    /// Email.
    public var email: String
    /// Role.
    public var role: BoardRole

}

/// Everything on a board at one version, read in one consistent snapshot.
public struct BoardSnapshot: Codable, Sendable {
    /// The board (its `version` is the snapshot's).
    public var board: Board
    /// Columns in order.
    public var columns: [BoardColumn]
    /// Unarchived cards, by column then position.
    public var cards: [Card]
    /// Labels.
    public var labels: [Label]
    /// Members.
    public var members: [BoardMember]
}

/// A domain rule was broken; the web edge maps `code` to a status.
public struct BoardError: Error, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The resource does not exist, or the caller may not know it exists (404).
        case notFound(String)
        /// The caller's role is too low (403).
        case forbidden(String)
        /// The request conflicts with the state (409).
        case conflict(code: String, message: String)
        /// A field is invalid (400).
        case invalid(field: String, message: String)
        /// The object changed since the version the writer based its change on (412); `current`
        /// is the object as it is now (JSON), under `key` (`card`, `column`…).
        case stale(key: String, current: String)
        /// Replacing the whole of `field` needs the version the writer based it on (428).
        case preconditionRequired(field: String)
        /// The board's attachments would take more than `quota` bytes; `used` are taken (413).
        case quotaExceeded(quota: Int64, used: Int64)
    }

    /// The kind.
    public var kind: Kind

    /// Creates an error.
    public init(_ kind: Kind) { self.kind = kind }
}
