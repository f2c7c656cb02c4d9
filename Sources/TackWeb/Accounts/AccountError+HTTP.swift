import Hummingbird
import TackCore

/// An account request that cannot be carried out answers as the API's error: 409 for a taken email,
/// 403 for a wrong current password, 401 for an account that is gone, 400 naming the field otherwise.
extension AccountError: HTTPResponseError {
    public var status: HTTPResponse.Status { APIError(self).status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}

extension APIError {
    /// The HTTP form of an account error.
    init(_ error: AccountError) {
        switch error.code {
        case .emailTaken: self.init(.conflict, code: error.code.rawValue, message: error.message, field: error.field)
        case .wrongPassword: self.init(.forbidden, code: error.code.rawValue, message: error.message, field: error.field)
        case .userNotFound: self = .unauthenticated
        default: self.init(.badRequest, code: error.code.rawValue, message: error.message, field: error.field)
        }
    }
}
