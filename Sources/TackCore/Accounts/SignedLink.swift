import Crypto
import Foundation

/// The secret part of a link sent by email: an invitation to a board, a password reset.
///
/// A link is `{purpose}{id}.{signature}`, the signature being base64url HMAC-SHA256 under
/// `secret_key` of the purpose, the row's id and the facts the link must stay bound to (the board and
/// invited address; the address and the account's password hash). Nothing secret is stored: any web
/// process can check a link, the worker can write it into an email from the row alone, a copy of the
/// database cannot forge one, and a reset link dies when the password it was made for changes.
/// Expiry and single use are the row's (`expires_at`, `used_at` / `accepted_at`).
public enum SignedLink {
    /// What a link is for; its letter starts the link, so one kind is never taken for the other.
    public enum Purpose: String, Sendable {
        case invitation = "i"
        case passwordReset = "r"
    }

    /// The link text for row `id`, bound to `facts`.
    public static func make(_ purpose: Purpose, id: Int64, facts: [String], secret: String) -> String {
        purpose.rawValue + String(id) + "." + SecretToken.base64URL(signature(purpose, id: id, facts: facts, secret: secret))
    }

    /// The row id a link names, when it is shaped like one of `purpose` (checked before any lookup).
    public static func id(of link: String, purpose: Purpose) -> Int64? {
        guard link.utf8.count <= 80, link.hasPrefix(purpose.rawValue), let dot = link.firstIndex(of: ".") else { return nil }
        let digits = link[link.index(after: link.startIndex)..<dot]
        guard !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(digits)
    }

    /// Whether `link` is the one made for row `id` with these facts, compared in constant time.
    public static func isValid(_ link: String, purpose: Purpose, id: Int64, facts: [String], secret: String) -> Bool {
        SecretToken.constantTimeEqual(link, make(purpose, id: id, facts: facts, secret: secret))
    }

    private static func signature(_ purpose: Purpose, id: Int64, facts: [String], secret: String) -> HMAC<SHA256>.MAC {
        // Length-prefixed fields: no two different fact lists sign the same bytes.
        var message = "tack-link"
        for field in [purpose.rawValue, String(id)] + facts { message += "|\(field.utf8.count):\(field)" }
        return HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
    }
}
