import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TackCore
import _NIOFileSystem

/// `/api/v1/boards/{board}/cards/{card}/attachments…`: files attached to cards.
///
/// An upload is the file's bytes as the raw request body (any `Content-Type`; it is not trusted)
/// with its name in `?name=`. The body streams to storage as it arrives, never held in memory:
/// NIO's file system writes it through a temporary file that becomes visible at its final path
/// only once complete (`transactionalCreation`), so a refused or broken upload leaves nothing.
/// More than `attachments.max_bytes` is refused with 413 as soon as it passes the limit; a board's
/// attachments together stay within `attachments.board_quota_bytes` (413 `quota_exceeded`).
///
/// Members of any role read and download; `member` and above upload and delete. Downloads carry
/// the type Tack decided from the bytes, `nosniff`, a sandboxing CSP and
/// `Content-Disposition: attachment` (inline only for raster images), and are never stored by
/// shared caches.
struct AttachmentController: Sendable {
    let store: BoardStore
    let files: AttachmentFiles
    let settings: TackConfiguration.Attachments
    let fileIO = FileIO()

    func addRoutes(to api: RouterGroup<TackRequestContext>) {
        api.get("/boards/{board}/cards/{card}/attachments", use: list)
        api.post("/boards/{board}/cards/{card}/attachments", use: upload)
        api.get("/boards/{board}/cards/{card}/attachments/{attachment}", use: download)
        api.delete("/boards/{board}/cards/{card}/attachments/{attachment}", use: delete)
    }

    /// The content security policy of a download: nothing in it may run or load anything.
    static let downloadPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    // MARK: - Routes

    @Sendable func list(_ request: Request, context: TackRequestContext) async throws -> BoardController.Page<Attachment> {
        let caller = try context.requireCaller()
        let boardID = try context.pathID("board")
        let cardID = try context.pathID("card")
        _ = try await store.requireRole(boardID: boardID, userID: caller.userID, minimum: .viewer)
        _ = try await store.card(boardID: boardID, cardID: cardID)  // 404 for a card that is not on the board
        return BoardController.Page(items: try await store.attachments(boardID: boardID, cardID: cardID), nextCursor: nil)
    }

    @Sendable func upload(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<BoardController.Written<Attachment>> {
        let caller = try context.requireCaller()
        guard caller.mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        let boardID = try context.pathID("board")
        let cardID = try context.pathID("card")
        // Who may upload, to which card, under what name and size: all before a byte is read.
        _ = try await store.requireRole(boardID: boardID, userID: caller.userID, minimum: .member)
        _ = try await store.card(boardID: boardID, cardID: cardID)
        guard let raw = request.uri.queryParameters.get("name") else {
            throw APIError.invalid("name", "name is required: the file's name, as ?name=… (percent-encoded).")
        }
        guard let name = AttachmentName.sanitize(String(raw)) else {
            throw APIError.invalid("name", "name must be a file name with at least one visible character other than dots.")
        }
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }) {
            guard length <= settings.maxBytes else { throw Self.tooLarge(settings.maxBytes) }
            let used = try await store.attachmentBytes(boardID: boardID)
            guard used + length <= settings.boardQuotaBytes else {
                throw BoardError(.quotaExceeded(quota: settings.boardQuotaBytes, used: used))
            }
        }

        let key = AttachmentFiles.newKey()
        let streamed: StreamedFile
        do {
            try files.prepareFolder(forKey: key)
        } catch {
            context.logger.error("cannot prepare attachment storage", metadata: ["tack.board.id": "\(boardID)", "tack.error": "\(error)"])
            throw Self.storageUnavailable
        }
        do {
            streamed = try await Self.stream(request.body, to: files.path(ofKey: key), limit: settings.maxBytes)
        } catch is UploadTooLarge {
            throw Self.tooLarge(settings.maxBytes)
        } catch let error as FileSystemError {
            context.logger.error(
                "cannot write an attachment to storage",
                metadata: ["tack.board.id": "\(boardID)", "tack.error": "\(error.code): \(error.message)"]
            )
            throw Self.storageUnavailable
        }
        let file = NewAttachment(
            name: name,
            type: AttachmentType.detect(head: streamed.head, name: name),
            size: streamed.size,
            sha256: streamed.sha256,
            storageKey: key
        )
        do {
            let (attachment, event) = try await store.createAttachment(
                boardID: boardID,
                cardID: cardID,
                actorID: caller.userID,
                file: file,
                quota: settings.boardQuotaBytes
            )
            return EditedResponse(status: .created, response: BoardController.Written(attachment, key: "attachment", event: event, etag: nil))
        } catch {
            // Refused (quota, card deleted meanwhile, role taken away) or not recorded: the file goes.
            files.remove(key: key)
            throw error
        }
    }

    @Sendable func download(_ request: Request, context: TackRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let boardID = try context.pathID("board")
        _ = try await store.requireRole(boardID: boardID, userID: caller.userID, minimum: .viewer)
        let (attachment, key) = try await store.attachment(
            boardID: boardID,
            cardID: try context.pathID("card"),
            attachmentID: try context.pathID("attachment")
        )
        var headers = Self.headers(for: attachment)
        if let tags = request.headers[.ifNoneMatch],
            tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == Self.etag(attachment) })
        {
            return Response(status: .notModified, headers: headers)
        }
        let path = files.path(ofKey: key)
        guard let info = try? await FileSystem.shared.info(forFileAt: FilePath(path)), info.type == .regular else {
            context.logger.error("an attachment's file is missing from storage", metadata: ["tack.attachment.id": "\(attachment.id)"])
            throw APIError(.gone, code: "attachment_missing", message: "The file of this attachment is missing from storage.")
        }
        headers[.contentLength] = String(info.size)
        return Response(status: .ok, headers: headers, body: try await fileIO.loadFile(path: path, context: context))
    }

    @Sendable func delete(_ request: Request, context: TackRequestContext) async throws -> BoardController.Deleted {
        let caller = try context.requireCaller()
        guard caller.mayWrite else { throw APIError.forbidden("This API token is read-only.") }
        let events = try await store.deleteAttachment(
            boardID: try context.pathID("board"),
            cardID: try context.pathID("card"),
            attachmentID: try context.pathID("attachment"),
            actorID: caller.userID
        )
        await Self.purge(files, context: context)
        return BoardController.Deleted(event: events[events.count - 1])
    }

    // MARK: - Helpers

    /// Deletes the files of deleted attachments now (best effort: the worker's sweep retries).
    static func purge(_ files: AttachmentFiles, context: TackRequestContext) async {
        do {
            try await files.purge()
        } catch {
            context.logger.warning("attachment files not deleted yet; the worker's sweep will", metadata: ["tack.error": "\(error)"])
        }
    }

    static func tooLarge(_ limit: Int64) -> APIError {
        APIError(
            .contentTooLarge,
            code: "attachment_too_large",
            message: "A file may be at most \(ByteCount.text(limit)) (attachments.max_bytes = \(limit) bytes); nothing was stored."
        )
    }

    static let storageUnavailable = APIError(
        .serviceUnavailable,
        code: "storage_unavailable",
        message: "The file could not be stored; try again later."
    )

    static func etag(_ attachment: Attachment) -> String { "\"\(attachment.sha256)\"" }

    /// The headers of a download: the decided type, never sniffed, never run, cached only by the
    /// member's own browser and revalidated (a member removed from the board must not keep reading
    /// it from a shared cache).
    static func headers(for attachment: Attachment) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = attachment.contentType
        headers[.contentDisposition] = contentDisposition(attachment.name, inline: attachment.image)
        headers[.contentSecurityPolicy] = downloadPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "private, no-cache"
        headers[.vary] = "Cookie, Authorization"
        headers[.crossOriginResourcePolicy] = "same-origin"
        headers[.eTag] = etag(attachment)
        return headers
    }

    /// `attachment; filename="report_.pdf"; filename*=UTF-8''report%E2%80%99.pdf` (RFC 6266): an
    /// ASCII fallback and the exact name, percent-encoded.
    static func contentDisposition(_ name: String, inline: Bool) -> String {
        var fallback = ""
        for scalar in name.unicodeScalars {
            let plain = scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "\\"
            fallback.unicodeScalars.append(plain ? scalar : "_")
        }
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? fallback
        return "\(inline ? "inline" : "attachment"); filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }

    /// What streaming an upload to storage found out about it.
    struct StreamedFile: Sendable {
        var size: Int64
        var sha256: String
        var head: [UInt8]
    }

    /// The body passed the size limit.
    struct UploadTooLarge: Error {}

    /// Writes `body` to a new file at `path` as it arrives (a 512 KiB write buffer; each chunk is
    /// hashed and the first bytes kept for `AttachmentType`). The file appears at `path` only when
    /// the whole body is written; on any error, the size limit included, it never appears.
    static func stream(_ body: RequestBody, to path: String, limit: Int64) async throws -> StreamedFile {
        try await FileSystem.shared.withFileHandle(
            forWritingAt: FilePath(path),
            options: .newFile(replaceExisting: false, permissions: [.ownerReadWrite, .groupRead])
        ) { handle in
            try await handle.withBufferedWriter { writer in
                var size: Int64 = 0
                var hasher = SHA256()
                var head: [UInt8] = []
                for try await buffer in body {
                    size += Int64(buffer.readableBytes)
                    guard size <= limit else { throw UploadTooLarge() }
                    buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    if head.count < AttachmentType.sniffLength {
                        head += buffer.readableBytesView.prefix(AttachmentType.sniffLength - head.count)
                    }
                    _ = try await writer.write(contentsOf: buffer)
                }
                let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
                return StreamedFile(size: size, sha256: digest, head: head)
            }
        }
    }
}
