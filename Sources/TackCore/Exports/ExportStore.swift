import Foundation
import Logging
import PostgresNIO

/// A board export as members see it.
public struct BoardExport: Sendable, Codable, Equatable {
    public var id: Int64
    public var boardID: Int64
    /// `json` or `csv`.
    public var format: String
    /// pending, ready, failed or expired.
    public var status: String
    public var bytes: Int64?
    public var error: String?
    public var createdAt: Date
    public var finishedAt: Date?
    public var expiresAt: Date

}

/// The arguments of an `exports.board` job.
public struct ExportJobArguments: Codable, Sendable {
    /// The export row.
    public var exportID: Int64

    /// Creates arguments.
    public init(exportID: Int64) { self.exportID = exportID }

    /// The kind of an export's job.
    public static let kind = "exports.board"

    /// The job of export `exportID`, under the one id every enqueue of it uses (the web role's, and
    /// the worker's when Redis lost it).
    public static func job(exportID: Int64) throws -> NewJob {
        try NewJob(kind: kind, arguments: ExportJobArguments(exportID: exportID), id: "export-\(exportID)")
    }
}

/// Board exports: requested through the API, written by a worker under `node.storage_dir/exports`,
/// downloadable by the board's members until they expire.
public struct ExportStore: Sendable {
    let postgres: PostgresClient
    /// Where export files live.
    public let directory: String
    let logger: Logger

    /// Creates the store; files go to `storageDirectory/exports`.
    public init(postgres: PostgresClient, storageDirectory: String, logger: Logger) {
        self.postgres = postgres
        self.directory = (storageDirectory as NSString).appendingPathComponent("exports")
        self.logger = logger
    }

    static let columns = "id, board_id, format, status, bytes, error, created_at, finished_at, expires_at"

    static func decode(_ row: PostgresRow) throws -> BoardExport {
        let (id, board, format, status, bytes, error, created, finished, expires) =
            try row.decode((Int64, Int64, String, String, Int64?, String?, Date, Date?, Date).self)
        return BoardExport(
            id: id,
            boardID: board,
            format: format,
            status: status,
            bytes: bytes,
            error: error,
            createdAt: created,
            finishedAt: finished,
            expiresAt: expires
        )
    }

    /// Records a pending export.
    public func create(boardID: Int64, userID: Int64, format: String, ttl: Duration) async throws -> BoardExport {
        let rows = try await postgres.boundedQuery(
            """
            INSERT INTO exports (board_id, requested_by, format, expires_at)
            VALUES (\(boardID), \(userID), \(format), now() + make_interval(secs => \(ttl.inSeconds)))
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(.notFound("board"))
    }

    /// Forgets an export that could not be queued.
    public func discard(id: Int64) async throws {
        try await postgres.boundedQuery("DELETE FROM exports WHERE id = \(id)", logger: logger)
    }

    /// The board's recent exports, newest first.
    public func list(boardID: Int64, limit: Int = 20) async throws -> [BoardExport] {
        let rows = try await postgres.boundedQuery(
            "SELECT \(unescaped: Self.columns) FROM exports WHERE board_id = \(boardID) ORDER BY created_at DESC LIMIT \(limit)",
            logger: logger
        )
        var result: [BoardExport] = []
        for try await row in rows { result.append(try Self.decode(row)) }
        return result
    }

    /// One export of the board.
    public func get(boardID: Int64, id: Int64) async throws -> BoardExport {
        let rows = try await postgres.boundedQuery(
            "SELECT \(unescaped: Self.columns) FROM exports WHERE board_id = \(boardID) AND id = \(id)",
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(.notFound("export"))
    }

    /// The file of a ready export.
    public func path(of export: BoardExport) -> String {
        (directory as NSString).appendingPathComponent("\(export.id).\(export.format)")
    }

    /// Marks expired exports and deletes their files; returns how many.
    public func expire() async throws -> Int {
        let rows = try await postgres.boundedQuery(
            """
            UPDATE exports SET status = 'expired' WHERE expires_at < now() AND status <> 'expired'
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        var count = 0
        for try await row in rows {
            let export = try Self.decode(row)
            try? FileManager.default.removeItem(atPath: path(of: export))
            count += 1
        }
        return count
    }
}
