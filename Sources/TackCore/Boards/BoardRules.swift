/// How long a board's texts may be and how much one request may ask for, shared by the API, the
/// pages and the commands. Text lengths are in characters, after trimming.
public enum BoardRules {
    /// A board's name.
    public static let boardNameLength = 100
    /// A board's description.
    public static let boardDescriptionLength = 10_000
    /// A column's name.
    public static let columnNameLength = 100
    /// A card's title.
    public static let cardTitleLength = 500
    /// A card's description (Markdown).
    public static let cardDescriptionLength = 100_000
    /// A comment (Markdown).
    public static let commentLength = 20_000
    /// A checklist's title.
    public static let checklistTitleLength = 200
    /// A checklist item's text.
    public static let checklistItemLength = 1_000
    /// Checklists on one card.
    public static let checklistsPerCard = 50
    /// Items in one checklist.
    public static let itemsPerChecklist = 500
    /// A label's name.
    public static let labelNameLength = 50
    /// Ids one change may list (a card's assignees or labels, or the ones added or removed).
    public static let idsPerChange = 100
    /// A search query.
    public static let searchQueryLength = 200
    /// A member's email, as typed to add them (RFC 5321's path limit).
    public static let memberEmailLength = AccountRules.maximumEmailLength
    /// Boards the boards page lists.
    public static let boardsPerPage = 500
}

/// How much one request may ask for when it reads a list: `?limit=` and its default.
public struct PageSize: Sendable {
    /// The size when `?limit=` is absent.
    public let fallback: Int
    /// The largest `?limit=` accepted.
    public let maximum: Int

    /// Lists of boards, cards, webhooks, deliveries, notifications: 50, at most 200.
    public static let standard = PageSize(fallback: 50, maximum: 200)
    /// A board's events and a card's history: 100, at most 1,000.
    public static let events = PageSize(fallback: 100, maximum: 1000)
}
