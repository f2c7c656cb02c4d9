import Foundation
import Hummingbird
import NIOCore

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
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message, field: field)))
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

    /// 413: the body is larger than allowed.
    public static let bodyTooLarge = APIError(.contentTooLarge, code: "body_too_large", message: "The request body is too large.")
}
