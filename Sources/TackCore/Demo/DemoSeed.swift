import Foundation
import Logging
import PostgresNIO
import TackRedis

/// The work of `./platform seed_demo` (which `./platform up` runs): a demo account and a demo
/// board with columns, labels, cards and a comment, so a fresh installation has something to
/// look at. Idempotent: an existing account is reused, and a board of that name owned by it is
/// left exactly as it is (it may have been played with).
public enum DemoSeed {
    /// The demo account's login.
    public static let email = "demo@example.com"
    /// Its display name.
    public static let name = "Demo User"
    /// The demo board's name (how a second run recognises it).
    public static let boardName = "Welcome to Tack"

    /// What a run did.
    public struct Outcome: Sendable {
        /// The demo account.
        public var user: User
        /// Whether this run created the account (else it existed).
        public var createdAccount: Bool
        /// Whether this run set the password (new account, or the stored one differed).
        public var setPassword: Bool
        /// The demo board.
        public var board: Board
        /// Whether this run created the board (else it existed and was left alone).
        public var createdBoard: Bool
    }

    /// A password that passes the account rules and is easy to read out: four groups of five
    /// lower-case letters and digits (about 100 bits).
    public static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String((0..<5).map { _ in alphabet.randomElement(using: &generator)! }) }.joined(separator: "-")
    }

    /// Makes sure the demo account exists with `password` and owns the demo board.
    ///
    /// An existing account keeps its sessions when `password` already is its password; otherwise
    /// the password is set (the demo account's password is whatever `seed_demo` last printed).
    public static func run(
        password: String,
        postgres: PostgresClient,
        redis: RedisClient,
        historySize: Int,
        hasher: PasswordHasher,
        logger: Logger
    ) async throws -> Outcome {
        let users = UserRepository(postgres: postgres, hasher: hasher, logger: logger)
        var createdAccount = false
        var setPassword = false
        let user: User
        if let existing = try await users.find(email: email) {
            user = existing
            if try await users.authenticate(email: email, password: password) == nil {
                try await users.setPassword(userID: existing.id, newPassword: password)
                setPassword = true
            }
        } else {
            user = try await users.create(email: email, name: name, password: password)
            createdAccount = true
            setPassword = true
        }

        let events = EventLog(postgres: postgres, logger: logger)
        let store = BoardStore(
            postgres: postgres,
            publisher: EventPublisher(redis: redis, log: events, historySize: historySize, logger: logger),
            logger: logger
        )
        if let board = try await store.boards(userID: user.id, includeArchived: true, limit: 1000, before: nil).first(where: { $0.name == boardName })
        {
            return Outcome(user: user, createdAccount: createdAccount, setPassword: setPassword, board: board, createdBoard: false)
        }
        let board = try await seedBoard(store: store, userID: user.id)
        return Outcome(user: user, createdAccount: createdAccount, setPassword: setPassword, board: board, createdBoard: true)
    }

    /// Creates the board and everything on it, through the store (so every step has its event).
    static func seedBoard(store: BoardStore, userID: Int64) async throws -> Board {
        let (board, _) = try await store.createBoard(
            name: boardName,
            description: "A demo board: drag cards between columns, open one to edit it or comment.",
            creatorID: userID
        )
        let id = board.id
        func column(_ name: String, wip: Int? = nil) async throws -> Int64 {
            try await store.createColumn(boardID: id, actorID: userID, name: name, wipLimit: wip, index: nil).0.id
        }
        func label(_ name: String, _ color: String) async throws -> Int64 {
            try await store.createLabel(boardID: id, actorID: userID, name: name, color: color).0.id
        }
        let todo = try await column("To do")
        let doing = try await column("In progress", wip: 3)
        let review = try await column("Review")
        let done = try await column("Done")
        let design = try await label("design", "#8f49de")
        let backend = try await label("backend", "#2f6fde")
        let bug = try await label("bug", "#c9372c")
        let docs = try await label("docs", "#1f845a")

        let day: TimeInterval = 24 * 3600
        func noon(inDays days: Double) -> Date {
            // Due dates are days: the pages store them at noon UTC.
            CivilCalendar.startOfDay(CivilCalendar.days(of: Date().addingTimeInterval(days * day))).addingTimeInterval(12 * 3600)
        }
        @discardableResult
        func card(
            _ column: Int64,
            _ title: String,
            _ description: String = "",
            labels: [Int64] = [],
            mine: Bool = false,
            due: Double? = nil,
            done: Bool = false
        ) async throws -> Int64 {
            var changes = CardChanges()
            changes.labels = labels
            changes.assignees = mine ? [userID] : []
            changes.dueAt = due.map { noon(inDays: $0) }
            changes.done = done
            return try await store.createCard(
                boardID: id,
                actorID: userID,
                columnID: column,
                title: title,
                description: description,
                index: nil,
                changes: changes
            ).0.id
        }

        try await card(
            todo,
            "Plan the next release",
            """
            Collect what the team wants to ship next and order it.

            - Review open bugs
            - Ask support for the top three requests
            - Pick a date
            """,
            labels: [docs],
            due: 7
        )
        try await card(todo, "Invite the team", "Open **Members** (top right) and add people by the email they signed up with.")
        try await card(
            todo,
            "Fix the login button on small phones",
            "The button is cut off below 360 px. See the *Safari* screenshot.",
            labels: [bug, design],
            due: -1
        )
        let onboarding = try await card(
            doing,
            "Design the onboarding flow",
            "Three screens at most. Sketches come first, then a clickable prototype.",
            labels: [design],
            mine: true,
            due: 3
        )
        try await card(
            doing,
            "Write the API guide",
            """
            Every endpoint is under `/api/v1`; scripts authenticate with a personal token from **API tokens**.
            The reference is the OpenAPI document: https://example.com/api/v1/openapi.json
            """,
            labels: [docs, backend]
        )
        try await card(
            review,
            "Drag and drop between columns",
            "Cards move with the mouse, or on a phone by their handle.",
            labels: [design, backend],
            mine: true
        )
        try await card(
            done,
            "Set up the servers",
            "PostgreSQL, Redis, nginx and supervisord, as the README describes.",
            labels: [backend],
            done: true
        )
        _ = try await store.createComment(
            boardID: id,
            cardID: onboarding,
            actorID: userID,
            body: "First sketches are in — feedback welcome! **Step 2** still feels long."
        )
        return try await store.snapshot(boardID: id, userID: userID).board
    }
}
