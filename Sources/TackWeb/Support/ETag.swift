import Foundation
import Hummingbird

/// Object versions as HTTP validators: a board object's `ETag` is the board version at which it last
/// changed (`"17"`), and a change to a value a person typed may name the version it was based on
/// with `If-Match` (or `expected_version` in the body), so a stale change answers 412 instead of
/// silently erasing a teammate's.
enum ETag {
    /// `"17"`.
    static func header(_ version: Int64) -> String { "\"\(version)\"" }

    /// The version a change is based on: `If-Match: "17"` (quoted as `ETag` gives it, or bare) or
    /// the body's `expected_version`; when both are given they must agree. `If-Match: *` names none.
    static func expectedVersion(_ request: Request, body: Int64?) throws -> Int64? {
        guard let raw = request.headers[.ifMatch] else { return body }
        let value = raw.trimmingCharacters(in: .whitespaces)
        if value == "*" { return body }
        var digits = Substring(value)
        if digits.count >= 2, digits.hasPrefix("\""), digits.hasSuffix("\"") { digits = digits.dropFirst().dropLast() }
        guard digits.count <= 19, digits.allSatisfy(\.isASCIIDigit), let version = Int64(digits) else {
            throw APIError.invalid("If-Match", "If-Match must be one version as the object's ETag gives it, e.g. \"17\".")
        }
        if let body, body != version { throw APIError.invalid("expected_version", "expected_version and If-Match name different versions.") }
        return version
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
