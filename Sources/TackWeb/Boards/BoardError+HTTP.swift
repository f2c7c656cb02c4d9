import Hummingbird
import TackCore

/// A board rule answers as the API's error: 404 for what the caller may not know exists, 403, 409,
/// 400 naming the field, 412 with the current object, 428, 413 for a full attachment quota.
extension BoardError: AnswersAsAPIError {
    public var apiError: APIError { APIError(self) }
}

extension APIError {
    /// The HTTP form of a board rule.
    init(_ error: BoardError) {
        switch error.kind {
        case .notFound(let what): self = .notFound(what)
        case .forbidden(let message): self = .forbidden(message)
        case .conflict(let code, let message): self = .conflict(code, message)
        case .invalid(let field, let message): self = .invalid(field, message)
        case .stale(let key, let current): self = .stale(key: key, current: current)
        case .preconditionRequired(let field): self = .preconditionRequired(field)
        case .quotaExceeded(let quota, let used):
            self = APIError(
                .contentTooLarge,
                code: "quota_exceeded",
                message:
                    "This board's attachments may take \(ByteCount.text(quota)) in all (attachments.board_quota_bytes); \(ByteCount.text(used)) are taken, so this file does not fit. Delete attachments to make room."
            )
        }
    }
}

// Domain values answered as they are; both types belong to Tack (TackCore), only the protocol is Hummingbird's.
extension BoardSnapshot: ResponseEncodable {}
extension Card: ResponseEncodable {}
