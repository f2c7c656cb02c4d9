import Foundation
import Hummingbird
import Logging
import TackCore
import _NIOFileSystem

/// `/api/v1/boards/{board}/exports…`: any member asks for a JSON, CSV or ZIP (JSON and attachment
/// files) export; a worker writes it; members download it, streamed from storage, until it expires
/// (`exports.ttl`).
struct ExportController: Sendable {
    let store: ExportStore
    let boards: BoardStore
    let queue: JobQueue
    let ttl: Duration
    let fileIO = FileIO()

    /// Each format and the type its download is served as.
    static let contentTypes = ["json": "application/json; charset=utf-8", "csv": "text/csv; charset=utf-8", "zip": "application/zip"]

    struct CreateRequest: Decodable, Sendable {
        var format: String
    }

    struct One: ResponseEncodable, Sendable {
        let export: BoardExport
    }

    struct List: ResponseEncodable, Sendable {
        let items: [BoardExport]
    }

    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/boards/{board}/exports", use: list)
        api.post("/boards/{board}/exports", use: create)
        api.get("/boards/{board}/exports/{export}", use: get)
        api.get("/boards/{board}/exports/{export}/download", use: download)
    }

    func board(_ context: TackRequestContext) async throws -> (board: Int64, user: Int64) {
        let caller = try context.requireCaller()
        let board = try context.pathID("board")
        _ = try await boards.requireRole(boardID: board, userID: caller.userID, minimum: .viewer)
        return (board, caller.userID)
    }

    @Sendable func list(_ request: Request, context: TackRequestContext) async throws -> List {
        let (board, _) = try await board(context)
        return List(items: try await store.list(boardID: board))
    }

    @Sendable func create(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<One> {
        let (board, user) = try await board(context)
        guard try context.requireCaller().mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        guard Self.contentTypes[body.format] != nil else { throw APIError.invalid("format", "format must be json, csv or zip.") }
        let export = try await store.create(boardID: board, userID: user, format: body.format, ttl: ttl)
        do {
            try await queue.enqueue(try ExportJobArguments.job(exportID: export.id))
        } catch {
            try? await store.discard(id: export.id)
            throw APIError(.serviceUnavailable, code: "queue_unavailable", message: "The job queue is unavailable; try again shortly.")
        }
        return EditedResponse(status: .accepted, response: One(export: export))
    }

    @Sendable func get(_ request: Request, context: TackRequestContext) async throws -> One {
        let (board, _) = try await board(context)
        return One(export: try await store.get(boardID: board, id: try context.pathID("export")))
    }

    @Sendable func download(_ request: Request, context: TackRequestContext) async throws -> Response {
        let (board, _) = try await board(context)
        let export = try await store.get(boardID: board, id: try context.pathID("export"))
        switch export.status {
        case "ready" where export.expiresAt > Date():
            break
        case "expired", "ready":
            throw APIError(.gone, code: "export_expired", message: "This export has expired; ask for a new one.")
        default:
            throw APIError.conflict("export_not_ready", "This export is \(export.status), not ready for download.")
        }
        let path = store.path(of: export)
        guard let info = try? await FileSystem.shared.info(forFileAt: FilePath(path)), info.type == .regular else {
            throw APIError(.gone, code: "export_missing", message: "The export file is gone from storage; ask for a new one.")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: Self.contentTypes[export.format] ?? "application/octet-stream", .contentLength: String(info.size),
                .contentDisposition: "attachment; filename=\"board-\(board)-\(export.id).\(export.format)\"",
            ],
            body: try await fileIO.loadFile(path: path, context: context)
        )
    }
}
