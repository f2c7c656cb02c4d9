import Hummingbird
import Logging

/// Serves `/assets/*` from `public/` (scripts, stylesheets, icons) before anything else runs: an
/// asset needs no session lookup, no route and no metrics label of its own. Hummingbird's
/// `FileMiddleware` does the work (ETag, Last-Modified, ranges, `..` refused); it is called with
/// a `next` that finds nothing, so it answers from the folder or with 404.
///
/// The pages name assets with the asset version in the path, `/assets/<version>/js/main.js`, so
/// that the ES modules' relative imports (`./lib/api.js`) carry the version too; the version
/// segment is dropped before the file is looked up. `/assets/<file>` (no version) is served as well.
///
/// In production nginx serves the same folder (`location /assets/` in nginx.conf.example); this
/// keeps `run web` complete on its own, for development and the tests.
struct AssetsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The URL prefix assets live under.
    static var prefix: String { "/assets/" }

    /// Hummingbird's file server on `public/`.
    let files: FileMiddleware<Context, LocalFileSystem>

    /// Serves the files in `publicDirectory`. Asset URLs carry a digest of `public/` in their path,
    /// so a long cache lifetime is safe: an upgrade changes the URL.
    init(publicDirectory: String, logger: Logger) {
        files = FileMiddleware(
            publicDirectory,
            urlBasePath: "/assets",
            cacheControl: .init([(MediaType(type: .any), [.public, .maxAge(7 * 24 * 3600)])]),
            logger: logger
        )
    }

    /// Answers `/assets/…` from the folder; passes everything else on.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix(Self.prefix) else { return try await next(request, context) }
        var request = request
        if let path = Self.unversioned(request.uri.path) {
            var head = request.head
            head.path = path + (request.uri.query.map { "?" + $0 } ?? "")
            request = Request(head: head, body: request.body)
        }
        return try await files.handle(request, context: context) { _, _ in throw HTTPError(.notFound) }
    }

    /// `/assets/<version>/<rest>` without its version segment (`/assets/<rest>`), or nil when the
    /// first segment is not a version: 6 to 64 lower-case hex digits (`PageTemplates.fingerprint`).
    static func unversioned(_ path: String) -> String? {
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let segment = rest[rest.startIndex..<slash]
        guard (6...64).contains(segment.count),
            segment.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else { return nil }
        return prefix + String(decoding: rest[rest.index(after: slash)...], as: UTF8.self)
    }
}
