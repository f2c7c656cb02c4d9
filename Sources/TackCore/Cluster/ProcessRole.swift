/// The four kinds of Tack process.
public enum ProcessRole: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Pages and the JSON API.
    case web
    /// Jobs from the queues.
    case worker
    /// Periodic jobs; one active leader.
    case scheduler
    /// Live connections to browsers.
    case push

    /// The role's name.
    public var description: String { rawValue }

    /// Parses a role name, with an error listing the valid ones.
    public static func parse(_ name: String) throws -> ProcessRole {
        guard let role = ProcessRole(rawValue: name) else {
            throw TackError(.usage, subject: "role \(name)", "unknown role; expected one of " + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return role
    }
}
