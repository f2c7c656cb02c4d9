import Hummingbird
import Logging
import PostgresNIO
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
        } catch  where Self.databaseUnavailable(error) {
            // PostgreSQL restarting or unreachable: a moment's outage, not a bug. When the connection
            // went away during COMMIT, whether the change was kept is unknown: the client must look
            // before it tries again.
            let atCommit = Self.cutDuringCommit(error)
            context.logger.warning(
                "request refused: PostgreSQL unavailable",
                metadata: ["tack.request.path": "\(request.uri.path)", "tack.during_commit": "\(atCommit)"]
            )
            var answer =
                atCommit
                ? APIError(
                    .serviceUnavailable,
                    code: "outcome_unknown",
                    message: "The database went away while saving; read the object again to see whether the change was kept."
                )
                : APIError(.serviceUnavailable, code: "database_unavailable", message: "The database is unavailable for a moment; try again.")
            answer.headers[.retryAfter] = "1"
            throw answer
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["tack.request.path": "\(request.uri.path)", "tack.error": "\(String(reflecting: error))"]
            )
            throw APIError(.internalServerError, code: "internal_error", message: "Something went wrong on our side; the error was logged.")
        }
    }
}

extension ErrorMiddleware {
    /// True for PostgreSQL connection failures and server shutdowns (SQLSTATE classes 08 and 57P).
    /// Also Tack's own bounds (issue 14): no connection within `database.acquire_timeout`, a call
    /// past `database.statement_timeout` (its connection closed), a read-only server (dropped).
    static func databaseUnavailable(_ error: any Error) -> Bool {
        if error is DatabaseBusy || error is DatabaseCallOverran || error is DatabaseReadOnly { return true }
        if let transaction = error as? PostgresTransactionError {
            return [transaction.beginError, transaction.closureError, transaction.commitError].contains { $0.map(databaseUnavailable) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return true
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default:
            return false
        }
    }
}

extension ErrorMiddleware {
    /// True when the connection went away while COMMIT was in flight: the outcome is unknown.
    static func cutDuringCommit(_ error: any Error) -> Bool {
        if let error = error as? DatabaseCallOverran { return error.duringCommit }
        if let error = error as? DatabaseReadOnly { return error.duringCommit }
        return ((error as? PostgresTransactionError)?.commitError).map(databaseUnavailable) ?? false
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
        case let error as any AnswersAsAPIError: self = error.apiError
        case let error as HTTPError: self.init(error)
        default: self.init(error.status, code: error.status.code < 500 ? "bad_request" : "internal_error", message: error.status.reasonPhrase)
        }
    }
}
