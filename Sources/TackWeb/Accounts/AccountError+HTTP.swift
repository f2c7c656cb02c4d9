import Hummingbird
import TackCore

/// An account request that cannot be carried out answers as the API's error: 409 for a taken email,
/// 403 for a wrong current password, 401 for an account that is gone, 410 for an expired or used
/// link, 429 for too many reset emails, 400 naming the field otherwise.
extension AccountError: AnswersAsAPIError {
    public var apiError: APIError { APIError(self) }
}

extension APIError {
    /// The HTTP form of an account error.
    init(_ error: AccountError) {
        switch error.code {
        case .emailTaken: self.init(.conflict, code: error.code.rawValue, message: error.message, field: error.field)
        case .wrongPassword: self.init(.forbidden, code: error.code.rawValue, message: error.message, field: error.field)
        case .userNotFound: self = .unauthenticated
        case .linkExpired, .linkUsed: self.init(.gone, code: error.code.rawValue, message: error.message, field: error.field)
        case .tooManyRequests: self.init(.tooManyRequests, code: error.code.rawValue, message: error.message, field: error.field)
        default: self.init(.badRequest, code: error.code.rawValue, message: error.message, field: error.field)
        }
    }
}
