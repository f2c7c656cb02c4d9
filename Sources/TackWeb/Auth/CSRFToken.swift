import Crypto
import Foundation
import HTTPTypes
import TackCore

/// The CSRF token of a session: hex HMAC-SHA256 of the session token under `secret_key`.
///
/// A browser page gets it in the login, sign-up and `/me` responses and sends it back as
/// `X-CSRF-Token` on every write. Another site can make the browser send the cookie, but cannot read
/// the token or set the header, and nothing needs storing: any web process can recompute it.
public enum CSRFToken {
    /// The request header that carries the token.
    public static let header = HTTPField.Name("X-CSRF-Token")!

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The token for a session token.
    public static func make(sessionToken: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(sessionToken.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        // Every page and every write by cookie computes this: hex by table, not `String(format:)` per byte.
        var hex: [UInt8] = []
        hex.reserveCapacity(2 * SHA256.byteCount)
        for byte in mac {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Whether `provided` is the token for the session, compared in constant time.
    public static func isValid(_ provided: String?, sessionToken: String, secret: String) -> Bool {
        guard let provided else { return false }
        return SecretToken.constantTimeEqual(provided, make(sessionToken: sessionToken, secret: secret))
    }
}
