import Hummingbird
import TackCore

/// Path and query parameters read the same way by every API controller: a bad value is a 404
/// (path ids) or a 400 naming the parameter (query), never silently a default.
extension TackRequestContext {
    /// The `{name}` path parameter as a positive id, or a 404 naming what it identifies (`what`,
    /// by default the parameter's name: `{board}` → `board_not_found`). The one reader of path ids.
    func pathID(_ name: String, identifying what: String? = nil) throws -> Int64 {
        guard let text = parameters.get(name), let value = Int64(text), value > 0 else { throw APIError.notFound(what ?? name) }
        return value
    }
}

extension Request {
    /// `?limit=`: 1 to the size's maximum, its fallback when absent.
    func limit(_ size: PageSize = .standard) throws -> Int {
        guard let text = uri.queryParameters.get("limit") else { return size.fallback }
        guard let value = Int(text), (1...size.maximum).contains(value) else {
            throw APIError.invalid("limit", "limit must be from 1 to \(size.maximum).")
        }
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
