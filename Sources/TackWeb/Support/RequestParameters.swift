import Hummingbird
import TackCore

/// Path and query parameters read the same way by every API controller: a bad value is a 404
/// (path ids) or a 400 naming the parameter (query), never silently a default.
extension TackRequestContext {
    /// The `{name}` path parameter as a positive id, or 404 naming it.
    func pathID(_ name: String) throws -> Int64 {
        guard let text = parameters.get(name), let value = Int64(text), value > 0 else { throw APIError.notFound(name) }
        return value
    }
}

extension Request {
    /// `?limit=`: 1 to `max`, `fallback` when absent.
    func limit(default fallback: Int = 50, max: Int = 200) throws -> Int {
        guard let text = uri.queryParameters.get("limit") else { return fallback }
        guard let value = Int(text), (1...max).contains(value) else { throw APIError.invalid("limit", "limit must be from 1 to \(max).") }
        return value
    }

    /// A paging cursor such as `?before=`: a non-negative integer, nil when absent.
    func cursor(_ name: String) throws -> Int64? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text), value >= 0 else { throw APIError.invalid(name, "\(name) must be a non-negative integer.") }
        return value
    }

    /// A boolean query parameter: `true` or `false`; anything else is a 400 rather than a silent `false`.
    func flag(_ name: String) throws -> Bool? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw APIError.invalid(name, "\(name) must be true or false.")
        }
    }
}
