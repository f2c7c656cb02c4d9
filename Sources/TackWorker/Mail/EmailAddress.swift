import Foundation

/// A mailbox: an address with an optional display name, as in `Tack <notify@tack.example>`.
public struct EmailAddress: Sendable, Hashable {
    /// The bare address, `local@domain`, ASCII only.
    public var address: String
    /// The name shown by mail readers; any Unicode text without line breaks.
    public var name: String?

    /// Creates a mailbox.
    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    /// Parses `address` or `Name <address>` (as in the `mail.from` config value); the name may be quoted.
    ///
    /// - Throws: `SMTPError` with code `invalidMessage` when there is no plain `local@domain` address.
    public init(parsing text: String) throws(SMTPError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            var name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") {
                name = String(name.dropFirst().dropLast())
                    .replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
            }
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            self.init(try MailSyntax.checkedAddress(address, field: "mailbox"), name: name.isEmpty ? nil : name)
        } else {
            self.init(try MailSyntax.checkedAddress(trimmed, field: "mailbox"))
        }
    }
}
