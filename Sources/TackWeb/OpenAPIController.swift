import Foundation
import Hummingbird
import Logging
import NIOCore
import TackCore

/// `GET /api/v1/openapi.json`: the hand-written OpenAPI 3.1 document kept in `public/openapi.json`.
///
/// The file is read once, when the router is built, so a request never touches the disk and every
/// process of a release serves the document of that release. A test keeps the document and the
/// router's routes equal, in both directions.
struct OpenAPIController: Sendable {
    /// Where the document lives, relative to the installation's root directory.
    static let relativePath = "public/openapi.json"

    /// The document's bytes, or nil when the installation lacks the file.
    let document: ByteBuffer?

    /// Reads the document from `deps.config.rootDirectory`; a missing file is logged (the operator
    /// must act) and the route then answers 404.
    init(deps: WebDependencies, logger: Logger) {
        let path = (deps.config.rootDirectory as NSString).appendingPathComponent(Self.relativePath)
        if let data = FileManager.default.contents(atPath: path) {
            document = ByteBuffer(bytes: data)
        } else {
            logger.error("the OpenAPI document is missing; GET /api/v1/openapi.json will answer 404", metadata: ["tack.path": "\(path)"])
            document = nil
        }
    }

    /// Adds the route to the `/api/v1` group (before authentication: the document is public).
    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/openapi.json") { [document] _, _ -> Response in
            guard let document else {
                throw APIError(.notFound, code: "openapi_not_installed", message: "This installation has no OpenAPI document (public/openapi.json).")
            }
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: document))
        }
    }
}
