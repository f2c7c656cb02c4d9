import Hummingbird
import Logging

/// Serves `/assets/*` from `public/` (scripts, stylesheets, icons) before anything else runs: an
/// asset needs no session lookup, no route and no metrics label of its own. Hummingbird's
/// `FileMiddleware` does the work (ETag, Last-Modified, ranges, `..` refused); it is called with
/// a `next` that finds nothing, so it answers from the folder or with 404.
///
/// In production nginx serves the same folder (`location /assets/` in nginx.conf.example); this
/// keeps `run web` complete on its own, for development and the tests.
struct AssetsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The URL prefix assets live under.
    static var prefix: String { "/assets/" }

    /// Hummingbird's file server on `public/`.
    let files: FileMiddleware<Context, LocalFileSystem>

    /// Serves the files in `publicDirectory`. Asset URLs carry `?v=<digest of public/>`, so a long
    /// cache lifetime is safe: an upgrade changes the URL.
    init(publicDirectory: String, logger: Logger) {
        files = FileMiddleware(publicDirectory, urlBasePath: "/assets",
                               cacheControl: .init([(MediaType(type: .any), [.public, .maxAge(7 * 24 * 3600)])]), logger: logger)
    }

    /// Answers `/assets/…` from the folder; passes everything else on.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix(Self.prefix) else { return try await next(request, context) }
        return try await files.handle(request, context: context) { _, _ in throw HTTPError(.notFound) }
    }
}
