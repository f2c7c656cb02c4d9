import Crypto
import Foundation

/// Random bearer secrets (session tokens, API tokens) and the digests they are stored as.
///
/// Only the SHA-256 of a token is stored, so a copy of the database cannot be replayed as a login.
/// A plain hash (no salt, no bcrypt) is right here: the token has 256 bits of entropy, and the
/// lookup by hash must be an index hit on every request.
public enum SecretToken {
    /// 32 bytes from the system's CSPRNG, base64url without padding (43 characters).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &generator) }
        return base64URL(bytes)
    }

    /// The digest stored for `token`.
    public static func digest(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }

    /// Base64url (RFC 4648 §5) without padding: safe in cookies, headers and URLs.
    public static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Whether `text` could be a token made by `generate()`: 43 base64url characters.
    /// Checked before any lookup, so junk never reaches the database.
    public static func isWellFormed(_ text: Substring) -> Bool {
        text.utf8.count == 43
            && text.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
            }
    }

    /// Whether two texts are equal, in time that depends only on their lengths (for secrets).
    public static func constantTimeEqual(_ given: String, _ expected: String) -> Bool {
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in b.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
