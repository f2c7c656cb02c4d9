import Foundation

/// The one naming rule of Tack's JSON: a type's fields are spelled in Swift's camelCase and its JSON
/// carries them in snake_case (`boardID` → `board_id`, `csrfToken` → `csrf_token`), in both
/// directions, with no hand-written `CodingKeys` strings.
///
/// Encoders use Foundation's `.convertToSnakeCase` (`JSONKeys.encoding`); the request body reader
/// turns each key a type asks for into its JSON name with `snakeCase(_:)`, which follows the same
/// rule (a word starts at an upper-case letter; a run of capitals is one word, `htmlURL` →
/// `html_url`). Dictionary keys (`[String: T]`) are data, not field names, and are never converted.
public enum JSONKeys {
    /// The key strategy of every encoder of Tack's JSON.
    public static let encoding: JSONEncoder.KeyEncodingStrategy = .convertToSnakeCase

    /// The JSON name of a Swift field name.
    public static func snakeCase(_ name: String) -> String {
        let characters = Array(name)
        var out = ""
        out.reserveCapacity(characters.count + 4)
        for (index, character) in characters.enumerated() {
            guard character.isUppercase else {
                out.append(character)
                continue
            }
            if index > 0 {
                let previous = characters[index - 1]
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if previous != "_" && (!previous.isUppercase || nextIsLower) { out += "_" }
            }
            out += character.lowercased()
        }
        return out
    }
}
