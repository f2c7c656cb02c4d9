import Hummingbird
import Synchronization

/// The methods each route template answers, filled once every route is added (the middleware is
/// added before them, so it reads this at request time).
final class RouteTable: Sendable {
    private let templates = Mutex<[(segments: [Substring], methods: [String])]>([])

    /// Records the router's routes.
    func load(_ routes: [Router<TackRequestContext>.RouteDescription]) {
        var byPath: [String: [String]] = [:]
        for route in routes { byPath[route.path.description, default: []].append(route.method.rawValue) }
        let table = byPath.map { (path, methods) in (segments: Self.segments(path), methods: methods.sorted()) }
        templates.withLock { $0 = table }
    }

    /// The methods some route answers at `path` (empty when no route has this path).
    func methods(for path: String) -> [String] {
        let wanted = Self.segments(path)
        return templates.withLock { table in
            Array(Set(table.filter { Self.matches($0.segments, wanted) }.flatMap(\.methods))).sorted()
        }
    }

    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// `{name}` matches one segment, `*` one segment, `**` the rest.
    static func matches(_ template: [Substring], _ path: [Substring]) -> Bool {
        var i = 0
        for part in template {
            if part == "**" { return true }
            guard i < path.count else { return false }
            if !(part.hasPrefix("{") && part.hasSuffix("}")) && part != "*" && part != path[i] { return false }
            i += 1
        }
        return i == path.count
    }
}

/// Refuses a path holding a control character (raw or percent-encoded: `%00` would otherwise
/// truncate a file name) with 400, and answers a path that exists with a method it does not
/// serve with 405 and `Allow`, as JSON errors like every other.
struct RouteGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.hasControlCharacter(request.uri.path) {
            throw APIError(.badRequest, code: "invalid_path", message: "The path contains a control character.")
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = table.methods(for: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw error }
            let list = allowed.joined(separator: ", ")
            var refusal = APIError(
                .methodNotAllowed,
                code: "method_not_allowed",
                message: "\(request.method.rawValue) is not served at this path; it answers \(list)."
            )
            refusal.headers[.allow] = list
            throw refusal
        }
    }

    /// A byte below 0x20 or 0x7F, or its percent-encoding.
    static func hasControlCharacter(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte < 0x20 || byte == 0x7F { return true }
            if byte == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) {
                let decoded = high << 4 | low
                if decoded < 0x20 || decoded == 0x7F { return true }
                i += 3
                continue
            }
            i += 1
        }
        return false
    }
}
