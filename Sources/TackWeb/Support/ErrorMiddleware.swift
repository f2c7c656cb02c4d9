import Foundation
import Hummingbird
import Logging
import PostgresNIO
import TackCore

/// Turns every error into the JSON error body: API errors as they are, Hummingbird's own HTTP
/// errors with a code derived from the status, anything else as a 500 that is logged here (once)
/// and never shows its text to the client.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as BoardError {
            throw APIError(error)
        } catch let error as HTTPError {
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
            throw APIError(error.status, code: code, message: message)
        } catch let error as DecodingError {
            throw APIError.fromDecoding(error)
        } catch {
            logger.error("request failed", metadata: ["tack.request.path": "\(request.uri.path)", "tack.error": "\(String(reflecting: error))"])
            throw APIError(.internalServerError, code: "internal_error", message: "Something went wrong on our side; the error was logged.")
        }
    }
}

extension APIError {
    /// A 400 naming the field a JSON decoder tripped on.
    static func fromDecoding(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .invalid(field, "\(field) is required.")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return .invalid(field, "\(field) must be \(describe(type)).")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return .malformedBody("The body is not valid JSON.") }
            let field = path(context.codingPath)
            return .invalid(field, "\(field) has an invalid value.")
        @unknown default:
            return .malformedBody("The body could not be read.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "an integer"
        case is Bool.Type: return "true or false"
        case is Double.Type: return "a number"
        default: return "of the documented type"
        }
    }
}
