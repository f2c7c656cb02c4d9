import Foundation

/// An account as the rest of Tack sees it: never with its password hash.
public struct User: Sendable, Equatable, Codable {
    /// Database id.
    public var id: Int64
    /// Normalised (lower-case) email, unique.
    public var email: String
    /// Display name.
    public var name: String
    /// Administers the installation (creates accounts when sign-up is invite-only).
    public var isAdmin: Bool
    /// When the account was created.
    public var createdAt: Date

    /// Creates a user value.
    public init(id: Int64, email: String, name: String, isAdmin: Bool, createdAt: Date) {
        self.id = id
        self.email = email
        self.name = name
        self.isAdmin = isAdmin
        self.createdAt = createdAt
    }

}
