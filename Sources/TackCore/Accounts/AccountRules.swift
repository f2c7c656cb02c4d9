import Foundation

/// What an email, a display name and a password must look like, shared by the API and `create_user`.
public enum AccountRules {
    /// Password length bounds, in characters. The upper bound only keeps requests small: the hasher
    /// digests the password first, so every character counts (plain bcrypt would ignore past 72 bytes).
    public static let passwordLength = 10...200
    /// Display-name length bounds, in characters, after trimming.
    public static let nameLength = 1...100
    /// Longest email accepted (RFC 5321's path limit).
    public static let maximumEmailLength = 254

    /// The email trimmed and lower-cased, or an error naming `field` when it is not an address.
    public static func normalizedEmail(_ raw: String, field: String = "email") throws -> String {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard !email.isEmpty else { throw AccountError.invalid(field, "\(field) is required.") }
        guard email.count <= maximumEmailLength else {
            throw AccountError.invalid(field, "\(field) must be at most \(maximumEmailLength) characters.")
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let problem = "\(field) must be an email address like name@example.com."
        guard parts.count == 2 else { throw AccountError.invalid(field, problem) }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty, local.count <= 64, !domain.isEmpty, domain.contains("."),
            !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains(".."),
            !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
        else { throw AccountError.invalid(field, problem) }
        let forbidden = CharacterSet.whitespacesAndNewlines.union(.controlCharacters).union(CharacterSet(charactersIn: "<>()[]\\,;:\""))
        guard email.unicodeScalars.allSatisfy({ !forbidden.contains($0) }) else { throw AccountError.invalid(field, problem) }
        return email
    }

    /// The display name trimmed, or an error naming `field` when it is empty, too long or holds control characters.
    public static func validatedName(_ raw: String, field: String = "name") throws -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard nameLength.contains(name.count) else {
            throw AccountError.invalid(
                field,
                name.isEmpty ? "\(field) is required." : "\(field) must be at most \(nameLength.upperBound) characters."
            )
        }
        guard name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw AccountError.invalid(field, "\(field) must not contain control characters.")
        }
        return name
    }

    /// Checks a new password: its length, and that it is not one of the first guesses of an attacker
    /// (a common password, too few distinct characters, the account's own email or name).
    /// Composition rules are deliberately absent (NIST SP 800-63B): length beats symbols.
    public static func checkPassword(_ password: String, email: String? = nil, name: String? = nil, field: String = "password") throws {
        guard passwordLength.contains(password.count) else {
            throw AccountError.invalid(field, "\(field) must be \(passwordLength.lowerBound) to \(passwordLength.upperBound) characters long.")
        }
        guard !password.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw AccountError.invalid(field, "\(field) must not contain NUL characters.")
        }
        let folded = password.lowercased()
        var personal: [String] = []
        if let email {
            let e = email.lowercased()
            personal.append(e)
            if let local = e.split(separator: "@").first { personal.append(String(local)) }
        }
        if let name { personal.append(name.lowercased()) }
        let weak =
            Set(folded).count < 5
            || commonPasswords.contains(folded)
            || personal.contains(where: { $0.count >= 3 && (folded == $0 || folded.replacingOccurrences(of: $0, with: "").count < 4) })
        if weak {
            throw AccountError.invalid(field, "\(field) is too easy to guess; a few unrelated words make a strong one.")
        }
    }

    /// Passwords of 10 characters or more that lead the leaked-password lists.
    static let commonPasswords: Set<String> = [
        "1234567890", "0123456789", "0987654321", "1234567891", "12345678910", "123456789a", "a123456789",
        "qwertyuiop", "qwertyuiop123", "qwerty1234", "qwerty12345", "qwerty123456", "1q2w3e4r5t", "1q2w3e4r5t6y",
        "1qaz2wsx3edc", "zaq12wsxcde3", "asdfghjkl1", "zxcvbnm123", "password12", "password123", "password1234",
        "passw0rd123", "p@ssw0rd123", "p@ssword123", "iloveyou12", "iloveyou123", "letmein123", "letmein1234",
        "welcome123", "welcome1234", "changeme123", "administrator", "admin12345", "admin123456", "abcdefghij",
        "abcd123456", "abc1234567", "football123", "baseball123", "princess123", "sunshine123", "monkey12345",
        "dragon12345", "trustno1234", "superman123", "starwars123", "whatever123", "1234qwerasdf", "qazwsxedcrfv",
    ]
}
