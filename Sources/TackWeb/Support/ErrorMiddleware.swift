import Hummingbird
import Logging
import TackCore

/// The last resort of error answers. Tack's errors answer for themselves: `APIError`, and TackCore's
/// errors through their `HTTPResponseError` conformances (`BoardError+HTTP.swift`,
/// `AccountError+HTTP.swift`). Here Hummingbird's own `HTTPError`s (an unknown route, a body over the
/// limit) get the same JSON shape, and anything else becomes a 500 that is logged once, with the
/// request id, and never shows its text to the client.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            throw APIError(error)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["tack.request.path": "\(request.uri.path)", "tack.error": "\(String(reflecting: error))"]
            )
            throw APIError(.internalServerError, code: "internal_error", message: "Something went wrong on our side; the error was logged.")
        }
    }
}

extension APIError {
    /// One of Hummingbird's errors, in the API's shape: a code derived from the status.
    init(_ error: HTTPError) {
        let code: String
        switch error.status {
        case .notFound: code = "not_found"
        case .methodNotAllowed: code = "method_not_allowed"
        case .contentTooLarge: code = "body_too_large"
        case .unsupportedMediaType: code = "unsupported_media_type"
        default: code = error.status.code < 500 ? "bad_request" : "internal_error"
        }
        let message =
            error.status == .contentTooLarge
            ? "The request body is too large."
            : (error.status.code < 500 ? (error.body ?? error.status.reasonPhrase) : "Something went wrong on our side.")
        self.init(error.status, code: code, message: message)
        self.headers = error.headers
    }
}

extension APIError {
    /// Any error that answers for itself, as the API's error (to add a header to the answer).
    init(answering error: any HTTPResponseError) {
        switch error {
        case let error as APIError: self = error
        case let error as BoardError: self.init(error)
        case let error as AccountError: self.init(error)
        case let error as HTTPError: self.init(error)
        default: self.init(error.status, code: error.status.code < 500 ? "bad_request" : "internal_error", message: error.status.reasonPhrase)
        }
    }
}
