import Foundation
import Logging
import PostgresNIO
import TackCore

/// `imports.board`: turns an uploaded Trello export into a new board.
///
/// The file is read and checked first (`TrelloImport.plan`): a file that is not a Trello export,
/// or is beyond the limits, fails the import with where and why, and creates nothing. Then the
/// whole board is written in one transaction (`BoardStore.importBoard`), which also marks the
/// import done: a second run of the job (a retry, a requeue) finds it done and makes no second
/// board, and a crash half-way leaves nothing behind. Progress is written as it goes.
public struct BoardImportJobs: JobHandler {
    /// The job kind.
    public static let kind = ImportJobArguments.kind

    let postgres: PostgresClient
    let boards: BoardStore
    let logger: Logger

    /// Creates the handler.
    public init(postgres: PostgresClient, boards: BoardStore, logger: Logger) {
        self.postgres = postgres
        self.boards = boards
        self.logger = logger
    }

    public var kinds: [String] { [Self.kind] }

    /// Another run of the job finished the import first.
    struct AlreadyFinished: Error {}

    public func perform(_ job: Job) async throws {
        let id = try job.decode(ImportJobArguments.self).importID
        // Claims the import and marks its job alive (see LostJobRequeue).
        let rows = try await postgres.boundedQuery(
            """
            UPDATE imports SET status = 'running', enqueued_at = now(), progress = GREATEST(progress, 5)
            WHERE id = \(id) AND status IN ('pending', 'running')
            RETURNING requested_by, content
            """,
            logger: logger
        )
        var found: (Int64, Data?)?
        for try await row in rows.decode((Int64, Data?).self) { found = row }
        guard let (owner, content) = found else { return }
        guard let content else { return try await fail(id, "The uploaded file is no longer stored; upload it again.") }

        let plan: TrelloBoardPlan
        do {
            plan = try TrelloImport.plan(Array(content))
        } catch {
            return try await fail(id, "The file cannot be imported: \(error.description)")
        }
        await setProgress(id, 10)
        let members = try await boards.matchTrelloMembers(plan.members)
        let summary = ImportSummary(
            columns: plan.columns.count,
            cards: plan.cards.count,
            labels: plan.labels.count,
            checklistItems: plan.itemCount,
            comments: plan.commentCount,
            matchedMembers: Set(members.values).subtracting([owner]).count
        )
        let logger = self.logger
        do {
            let board = try await boards.importBoard(
                plan,
                ownerID: owner,
                members: members,
                progress: { percent in await self.setProgress(id, percent) },
                finish: { boardID, tx in
                    let rows = try await tx.query(
                        """
                        UPDATE imports SET status = 'done', progress = 100, board_id = \(boardID), content = NULL, finished_at = now(),
                                           summary = \(BoardEventDraft.encode(summary))::JSONB
                        WHERE id = \(id) AND status = 'running'
                        RETURNING id
                        """,
                        logger: logger
                    )
                    var updated = false
                    for try await _ in rows.decode(Int64.self) { updated = true }
                    if !updated { throw AlreadyFinished() }
                }
            )
            logger.info(
                "board imported",
                metadata: [
                    "tack.import.id": "\(id)", "tack.board.id": "\(board.id)", "tack.import.cards": "\(summary.cards)",
                    "tack.import.bytes": "\(content.count)",
                ]
            )
        } catch is AlreadyFinished {
            return
        } catch let error as PSQLError where error.serverInfo?[.sqlState].map({ $0.hasPrefix("22") || $0.hasPrefix("23") }) ?? false {
            // A value PostgreSQL refuses (retrying cannot help): the import fails, nothing was made.
            logger.error("board import refused by the database", metadata: ["tack.import.id": "\(id)", "tack.error": "\(String(reflecting: error))"])
            return try await fail(id, "The file holds a value Tack cannot store; nothing was imported.")
        }
    }

    /// Ends the import as failed with `message` (for people: where in the file and what).
    func fail(_ id: Int64, _ message: String) async throws {
        try await postgres.boundedQuery(
            """
            UPDATE imports SET status = 'failed', error = \(message), content = NULL, finished_at = now()
            WHERE id = \(id) AND status IN ('pending', 'running')
            """,
            logger: logger
        )
        logger.notice("board import failed", metadata: ["tack.import.id": "\(id)", "tack.import.error": "\(message)"])
    }

    /// Records progress (best effort: a lost update only delays what the page shows).
    func setProgress(_ id: Int64, _ percent: Int) async {
        _ = try? await postgres.boundedQuery(
            "UPDATE imports SET progress = GREATEST(progress, \(percent)), enqueued_at = now() WHERE id = \(id) AND status = 'running'",
            logger: logger
        )
    }
}
