import Foundation
import Hummingbird
import NIOCore
import TackCore

/// An error answered to the client as `{"error": {"code", "message", "field"?}}` with its status.
///
/// The message is written for the API caller; it never carries database text or stack details.
public struct APIError: Error, HTTPResponseError, Sendable {
    /// HTTP status.
    public var status: HTTPResponse.Status
    /// Stable machine-readable code, e.g. `card_not_found`.
    public var code: String
    /// A sentence for the caller.
    public var message: String
    /// The request field at fault, for validation errors.
    public var field: String?
    /// Extra response headers (e.g. `Retry-After`).
    public var headers: HTTPFields = [:]
    /// An object answered beside the error, as JSON text under its key (a 412's current object).
    public var object: (key: String, json: String)?

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    struct Body: Encodable {
        struct Inner: Encodable {
            let code: String
            let message: String
            let field: String?
        }
        let error: Inner
    }

    /// The JSON response.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var data = try JSONEncoder().encode(Body(error: .init(code: code, message: message, field: field)))
        if let object {
            data.removeLast()
            data.append(contentsOf: Array(",\(StrictJSON.quote(object.key)):\(object.json)}".utf8))
        }
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: - Common errors

    /// 400: a field is missing, malformed, too long, or unknown.
    public static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", message: message, field: field)
    }

    /// 400: the body is not the JSON object expected.
    public static func malformedBody(_ message: String) -> APIError {
        APIError(.badRequest, code: "malformed_body", message: message)
    }

    /// 401: no valid session or token.
    public static let unauthenticated = APIError(.unauthorized, code: "unauthenticated", message: "Log in or send an API token.")

    /// 403: authenticated, but the role is too low.
    public static func forbidden(_ message: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }

    /// 404: the resource does not exist or the caller may not know it exists.
    public static func notFound(_ what: String) -> APIError {
        APIError(.notFound, code: "\(what)_not_found", message: "No such \(what.replacingOccurrences(of: "_", with: " ")).")
    }

    /// 409: the request conflicts with the current state.
    public static func conflict(_ code: String, _ message: String) -> APIError {
        APIError(.conflict, code: code, message: message)
    }

    /// 412: the object changed since the version the request was based on; `current` is the
    /// object now (JSON), answered under `key` with its version as `ETag`.
    public static func stale(key: String, current: String) -> APIError {
        var error = APIError(
            .preconditionFailed,
            code: "version_conflict",
            message: "The \(key) changed since the version this change was based on; the current \(key) is in the answer."
        )
        error.object = (key, current)
        if case .object(let fields)? = try? StrictJSON.parse(current, limits: .stored), case .integer(let version)? = fields["version"] {
            error.headers[.eTag] = "\"\(version)\""
        }
        return error
    }

    /// 428: replacing a whole set needs the version the change was based on.
    public static func preconditionRequired(_ field: String) -> APIError {
        APIError(
            .preconditionRequired,
            code: "precondition_required",
            message: "Replacing all \(field) needs If-Match (or expected_version) with the card's version; add_\(field)/remove_\(field) need none.",
            field: field
        )
    }

    /// 413: the body is larger than allowed.
    public static let bodyTooLarge = APIError(.contentTooLarge, code: "body_too_large", message: "The request body is too large.")
}

/// An error of another module (TackCore's `BoardError`, `AccountError`) that answers as the API's
/// error: it says which (`apiError`), and its status and JSON answer follow from that.
public protocol AnswersAsAPIError: HTTPResponseError {
    /// The API's form of this error.
    var apiError: APIError { get }
}

extension AnswersAsAPIError {
    /// The API error's status.
    public var status: HTTPResponse.Status { apiError.status }

    /// The API error's JSON answer.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try apiError.response(from: request, context: context)
    }
}
