import Crypto
import Foundation
import Hummingbird
import Mustache
import TackCore

/// The page templates (`templates/*.mustache`: a layout, pages and partials), read and parsed once
/// when the router is built, so a broken or missing template stops `run web` at start with the file
/// and line, instead of failing the first person who opens that page.
struct PageTemplates: Sendable {
    /// Templates every page needs; a missing one is an installation error.
    static let required = ["layout", "login", "signup", "boards", "board", "column", "card", "members", "tokens", "error"]

    /// The parsed templates, by file name without `.mustache`.
    let library: MustacheLibrary
    /// A short digest of the files in `public/`, appended to asset URLs (`?v=…`) so browsers and
    /// nginx (`expires 7d`) never serve a stale script or stylesheet after an upgrade.
    let assetVersion: String

    /// Loads every `*.mustache` in `directory` (registered under its name without the extension)
    /// and fingerprints the assets in `publicDirectory`.
    init(directory: String, publicDirectory: String) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".mustache") }.sorted()
        } catch {
            throw TackError(.fileError, subject: directory, "cannot list the page templates; the Tack installation is incomplete (templates/ ships beside migrations/)")
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
                throw TackError(.fileError, subject: "\(path):\(error.context.lineNumber):\(error.context.columnNumber)",
                                "template does not parse (\(error.error))")
            }
        }
        for name in Self.required where library.getTemplate(named: name) == nil {
            throw TackError(.fileError, subject: (directory as NSString).appendingPathComponent(name + ".mustache"),
                            "is missing; the Tack installation is incomplete")
        }
        self.library = library
        self.assetVersion = Self.fingerprint(publicDirectory)
    }

    /// Renders `template` with `model` as an HTML response that no cache keeps (pages carry the CSRF token).
    func response(_ template: String, _ model: Any, status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(model, withTemplate: template) ?? ""
        return Response(status: status,
                        headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: .init(string: html)))
    }

    /// SHA-256 over the names and contents of the files directly in `directory`, first 10 hex digits.
    static func fingerprint(_ directory: String) -> String {
        var hash = SHA256()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted() ?? []
        for name in names {
            guard let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name)) else { continue }
            hash.update(data: Data(name.utf8))
            hash.update(data: data)
        }
        return hash.finalize().prefix(5).map { String(format: "%02x", $0) }.joined()
    }
}
