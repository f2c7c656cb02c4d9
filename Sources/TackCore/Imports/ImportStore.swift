import Foundation
import Logging
import PostgresNIO

/// A board import as the person who asked for it sees it.
public struct BoardImport: Sendable, Codable, Equatable {
    public var id: Int64
    /// `trello`.
    public var source: String
    /// pending, running, done or failed.
    public var status: String
    /// Share done, 0–100.
    public var progress: Int
    /// Size of the uploaded file.
    public var bytes: Int64
    /// The new board, once done.
    public var boardID: Int64?
    /// What was imported, once done.
    public var summary: ImportSummary?
    /// Why it failed (where in the file, and what), once failed.
    public var error: String?
    public var createdAt: Date
    public var finishedAt: Date?
}

/// What an import made.
public struct ImportSummary: Sendable, Codable, Equatable {
    public var columns: Int
    public var cards: Int
    public var labels: Int
    public var checklistItems: Int
    public var comments: Int
    /// Trello members matched to Tack accounts (they joined the board).
    public var matchedMembers: Int

    /// Creates a summary.
    public init(columns: Int, cards: Int, labels: Int, checklistItems: Int, comments: Int, matchedMembers: Int) {
        self.columns = columns
        self.cards = cards
        self.labels = labels
        self.checklistItems = checklistItems
        self.comments = comments
        self.matchedMembers = matchedMembers
    }
}

/// The arguments of an `imports.board` job.
public struct ImportJobArguments: Codable, Sendable {
    public var importID: Int64

    /// The job kind.
    public static let kind = "imports.board"

    /// The job of import `importID`, under the one id every enqueue of it uses.
    public static func job(importID: Int64) throws -> NewJob {
        try NewJob(kind: kind, arguments: ImportJobArguments(importID: importID), id: "import-\(importID)")
    }
}

/// How large an uploaded export may be (the whole file is parsed in one worker's memory).
public enum ImportRules {
    /// 50 MiB: a Trello board of 20,000 cards with their actions fits.
    public static let maximumBytes = 50 << 20
    /// Imports one person may have waiting or running at once.
    public static let openPerUser = 3
}

/// Board imports: uploaded through the API (the file is kept in the row), turned into a board by
/// a worker, followed by the person who asked.
public struct ImportStore: Sendable {
    let postgres: PostgresClient
    let logger: Logger

    /// Creates the store.
    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    /// The summary is stored as events are written (snake_case keys).
    static let summaryDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static let columns = "id, source, status, progress, bytes, board_id, summary::TEXT, error, created_at, finished_at"

    static func decode(_ row: PostgresRow) throws -> BoardImport {
        let (id, source, status, progress, bytes, board, summary, error, created, finished) =
            try row.decode((Int64, String, String, Int, Int64, Int64?, String?, String?, Date, Date?).self)
        return BoardImport(
            id: id,
            source: source,
            status: status,
            progress: progress,
            bytes: bytes,
            boardID: board,
            summary: summary.flatMap { try? summaryDecoder.decode(ImportSummary.self, from: Data($0.utf8)) },
            error: error,
            createdAt: created,
            finishedAt: finished
        )
    }

    /// Records a pending import of `content`; a person has at most `ImportRules.openPerUser`
    /// imports waiting or running at once (409 `too_many_imports` beyond).
    public func create(userID: Int64, source: String, content: [UInt8]) async throws -> BoardImport {
        let rows = try await postgres.boundedQuery(
            """
            INSERT INTO imports (requested_by, source, bytes, content)
            SELECT \(userID), \(source), \(Int64(content.count)), \(Data(content))
            WHERE (SELECT count(*) FROM imports WHERE requested_by = \(userID) AND status IN ('pending', 'running')) < \(ImportRules.openPerUser)
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(
            .conflict(code: "too_many_imports", message: "You already have \(ImportRules.openPerUser) imports under way; wait for one to finish.")
        )
    }

    /// Forgets an import that could not be queued.
    public func discard(id: Int64) async throws {
        try await postgres.boundedQuery("DELETE FROM imports WHERE id = \(id)", logger: logger)
    }

    /// The caller's import `id` (404 for anybody else's).
    public func get(userID: Int64, id: Int64) async throws -> BoardImport {
        let rows = try await postgres.boundedQuery(
            "SELECT \(unescaped: Self.columns) FROM imports WHERE id = \(id) AND requested_by = \(userID)",
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(.notFound("import"))
    }

    /// The caller's recent imports, newest first.
    public func list(userID: Int64, limit: Int = 20) async throws -> [BoardImport] {
        let rows = try await postgres.boundedQuery(
            "SELECT \(unescaped: Self.columns) FROM imports WHERE requested_by = \(userID) ORDER BY created_at DESC, id DESC LIMIT \(limit)",
            logger: logger
        )
        var result: [BoardImport] = []
        for try await row in rows { result.append(try Self.decode(row)) }
        return result
    }
}
