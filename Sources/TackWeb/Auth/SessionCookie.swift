import Foundation
import Hummingbird

/// The `tack_session` cookie: HttpOnly (scripts cannot read it), SameSite=Lax (not sent on
/// cross-site writes), Path=/, Secure when `web.base_url` is https, and a Max-Age that follows the
/// session's sliding expiry.
struct SessionCookie: Sendable {
    /// The cookie's name.
    static let name = "tack_session"

    /// Whether to mark the cookie Secure.
    let secure: Bool

    /// The cookie carrying `token`, living until `expiresAt`.
    func issue(_ token: String, expiresAt: Date) -> Cookie {
        let maxAge = max(0, Int(expiresAt.timeIntervalSinceNow.rounded(.down)))
        return Cookie(name: Self.name, value: token, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }

    /// A cookie that makes the browser forget the session.
    func clear() -> Cookie {
        Cookie(
            name: Self.name,
            value: "",
            expires: Date(timeIntervalSince1970: 0),
            maxAge: 0,
            path: "/",
            secure: secure,
            httpOnly: true,
            sameSite: .lax
        )
    }
}
