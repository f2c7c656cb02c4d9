import Foundation
import Hummingbird
import NIOCore
import TackCore

/// `/api/v1/imports…`: a signed-in person uploads a board export from another tool (Trello's
/// "Export as JSON") and follows the worker that turns it into a new board they own.
struct ImportController: Sendable {
    let store: ImportStore
    let queue: JobQueue

    struct One: ResponseEncodable, Sendable {
        let `import`: BoardImport
    }

    struct List: ResponseEncodable, Sendable {
        let items: [BoardImport]
    }

    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/imports", use: list)
        api.post("/imports/trello", use: createTrello)
        api.get("/imports/{import}", use: get)
    }

    @Sendable func list(_ request: Request, context: TackRequestContext) async throws -> List {
        List(items: try await store.list(userID: try context.requireCaller().userID))
    }

    @Sendable func get(_ request: Request, context: TackRequestContext) async throws -> One {
        One(import: try await store.get(userID: try context.requireCaller().userID, id: try context.pathID("import")))
    }

    /// The body is the export file itself (JSON, up to `ImportRules.maximumBytes`); it is checked
    /// by the worker, which says where and why a file cannot be imported.
    @Sendable func createTrello(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<One> {
        let caller = try context.requireCaller()
        guard caller.mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        let limit = ImportRules.maximumBytes
        let tooLarge = APIError(
            .contentTooLarge,
            code: "body_too_large",
            message: "The file is larger than \(limit >> 20) MiB, the most Tack imports at once."
        )
        let buffer = try await JSONBody.bytes(
            of: request,
            limit: limit,
            tooLarge: tooLarge,
            wrongType: "Send the Trello export as it is (Content-Type: application/json)."
        )
        let content = Array(buffer.readableBytesView)
        // Not even the start of a JSON object: say so now rather than after a queue round trip.
        guard content.first(where: { !" \t\r\n".utf8.contains($0) }) == UInt8(ascii: "{") else {
            throw APIError.invalid("file", "The file is not a Trello board export (a JSON object); in Trello use Print and export → Export as JSON.")
        }
        let made = try await store.create(userID: caller.userID, source: "trello", content: content)
        do {
            try await queue.enqueue(try ImportJobArguments.job(importID: made.id))
        } catch {
            try? await store.discard(id: made.id)
            throw APIError(.serviceUnavailable, code: "queue_unavailable", message: "The job queue is unavailable; try again shortly.")
        }
        return EditedResponse(status: .accepted, response: One(import: made))
    }
}
