import Foundation
import Hummingbird
import Logging
import NIOCore
import TackCore

/// Who is calling, as established by the authentication middleware.
public struct Caller: Sendable {
    /// How the caller authenticated.
    public enum Method: Sendable, Equatable {
        /// A browser session cookie; unsafe methods also need the CSRF token.
        case session(id: Int64)
        /// A personal API token with its scope.
        case token(id: Int64, readWrite: Bool)
    }

    /// The user's id.
    public var userID: Int64
    /// The user's display name.
    public var name: String
    /// The user's email.
    public var email: String
    /// Whether the user administers the installation.
    public var isAdmin: Bool
    /// How they authenticated.
    public var method: Method

    /// Creates a caller.
    public init(userID: Int64, name: String, email: String, isAdmin: Bool, method: Method) {
        self.userID = userID
        self.name = name
        self.email = email
        self.isAdmin = isAdmin
        self.method = method
    }

    /// True when this caller may write (sessions always; tokens only with read-write scope).
    public var mayWrite: Bool {
        if case .token(_, let readWrite) = method { return readWrite }
        return true
    }
}

/// The request context of the web role: Hummingbird's core storage plus the caller.
public struct TackRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// Set by the authentication middleware when the request carries a valid session or token.
    public var caller: Caller?
    /// Why credentials that came with the request were not accepted for it, when that is not a
    /// plain 401: a session cookie on a write without the right CSRF token (403 `csrf_failed`), a
    /// read-scope token on a write (403 `insufficient_scope`). `requireCaller()` throws it.
    public var authFailure: APIError?
    /// The session token from the cookie, when `caller` authenticated by session (for the CSRF
    /// token in responses and for logout). Never logged.
    public var sessionToken: String?
    /// The TCP peer (nginx, or the client itself); nil for in-process test requests.
    public let peerAddress: SocketAddress?

    /// Request bodies above this size are refused with 413 before they are decoded.
    public static let maximumBodySize = 1 << 20

    /// Creates a context for one request.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.caller = nil
        self.authFailure = nil
        self.sessionToken = nil
        self.peerAddress = source.channel.remoteAddress
    }

    /// The body limit Hummingbird applies when decoding.
    public var maxUploadSize: Int { Self.maximumBodySize }

    /// JSON with snake_case keys (`JSONKeys`) and RFC 3339 dates.
    public var responseEncoder: JSONEncoder { Self.encoder }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.string(from: date))
        }
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.keyEncodingStrategy = JSONKeys.encoding
        return encoder
    }()

    /// The caller, or 401 (or the 403 in `authFailure` when credentials came but do not suffice).
    public func requireCaller() throws -> Caller {
        guard let caller else { throw authFailure ?? APIError.unauthenticated }
        return caller
    }
}
