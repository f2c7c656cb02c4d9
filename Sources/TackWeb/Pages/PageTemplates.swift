import Crypto
import Foundation
import Hummingbird
import Mustache
import NIOCore
import TackCore

/// The page templates (`templates/*.mustache`: a layout, pages and partials), read and parsed once
/// when the router is built, so a broken or missing template stops `run web` at start with the file
/// and line, instead of failing the first person who opens that page.
struct PageTemplates: Sendable {
    /// Templates every page needs; a missing one is an installation error.
    static let required = ["layout", "login", "signup", "boards", "board", "board-content", "column", "card", "members", "tokens", "error"]

    /// Where `board.mustache` (the layout around a board) takes the board: the rendered
    /// `board-content.mustache`, which is cached per board version while the layout carries the
    /// caller. A comment, so it can never come from escaped text, which has no `<`.
    static let boardContentMarker = "<!--tack:board-content-->\n"

    /// The parsed templates, by file name without `.mustache`.
    let library: MustacheLibrary
    /// A short digest of the files in `public/`, the first segment of asset paths
    /// (`/assets/<version>/js/main.js`), so browsers and nginx (`expires 7d`) never serve a stale
    /// script or stylesheet after an upgrade, and the modules' relative imports carry it.
    let assetVersion: String

    /// Loads every `*.mustache` in `directory` (registered under its name without the extension)
    /// and fingerprints the assets in `publicDirectory`.
    init(directory: String, publicDirectory: String) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".mustache") }.sorted()
        } catch {
            throw TackError(
                .fileError,
                subject: directory,
                "cannot list the page templates; the Tack installation is incomplete (templates/ ships beside migrations/)"
            )
        }
        var library = MustacheLibrary()
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let text = FileManager.default.contents(atPath: path).flatMap({ String(data: $0, encoding: .utf8) }) else {
                throw TackError(.fileError, subject: path, "cannot be read as UTF-8 text")
            }
            do {
                try library.register(text, named: String(file.dropLast(".mustache".count)))
            } catch let error as MustacheTemplate.ParserError {
                throw TackError(
                    .fileError,
                    subject: "\(path):\(error.context.lineNumber):\(error.context.columnNumber)",
                    "template does not parse (\(error.error))"
                )
            }
        }
        for name in Self.required where library.getTemplate(named: name) == nil {
            throw TackError(
                .fileError,
                subject: (directory as NSString).appendingPathComponent(name + ".mustache"),
                "is missing; the Tack installation is incomplete"
            )
        }
        self.library = library
        self.assetVersion = Self.fingerprint(publicDirectory)
        let frame =
            library.render(
                PlainPageModel(layout: LayoutModel(title: "", page: "board", assetVersion: "", user: nil, csrfToken: nil, signupOpen: false)),
                withTemplate: "board"
            ) ?? ""
        guard frame.components(separatedBy: Self.boardContentMarker).count == 2 else {
            throw TackError(
                .fileError,
                subject: (directory as NSString).appendingPathComponent("board.mustache"),
                "must contain \(Self.boardContentMarker.debugDescription) once, on a line of its own, where the board goes"
            )
        }
    }

    /// `template` rendered with `model`.
    func render(_ template: String, _ model: Any) -> String {
        library.render(model, withTemplate: template) ?? ""
    }

    /// Renders `template` with `model` as an HTML response that no cache keeps (pages carry the CSRF token).
    func response(_ template: String, _ model: Any, status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(model, withTemplate: template) ?? ""
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: .init(string: html))
        )
    }

    /// Renders `template` with `model` and puts `content` (HTML made safe when it was rendered) in
    /// place of `marker`, without passing it through Mustache again: the layout is rendered per
    /// request, the content may be a cached board of a few hundred kilobytes.
    func response(
        _ template: String,
        _ model: Any,
        inserting content: ByteBuffer,
        at marker: String,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let html = library.render(model, withTemplate: template) ?? ""
        var body = ByteBuffer()
        if let range = html.range(of: marker) {
            body.reserveCapacity(html.utf8.count - marker.utf8.count + content.readableBytes)
            body.writeSubstring(html[..<range.lowerBound])
            body.writeImmutableBuffer(content)
            body.writeSubstring(html[range.upperBound...])
        } else {
            body.writeString(html)  // init checked that the board template has the marker
        }
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: body)
        )
    }

    /// SHA-256 over the relative paths and contents of every file under `directory` (the ES
    /// modules sit in subfolders), first 10 hex digits.
    static func fingerprint(_ directory: String) -> String {
        var hash = SHA256()
        let names = (FileManager.default.subpaths(atPath: directory) ?? []).sorted()
        for name in names {
            var isDirectory: ObjCBool = false
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            hash.update(data: Data(name.utf8))
            hash.update(data: data)
        }
        return hash.finalize().prefix(5).map { String(format: "%02x", $0) }.joined()
    }
}
