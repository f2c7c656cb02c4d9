import Foundation
import PostgresNIO

/// A file attached to a card, as members see it (its storage key stays on the server).
public struct Attachment: Encodable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// Board.
    public var boardID: Int64
    /// Card.
    public var cardID: Int64
    /// Display name, sanitised (`AttachmentName`).
    public var name: String
    /// The type Tack decided from the bytes (`AttachmentType`), served with the file.
    public var contentType: String
    /// Size in bytes.
    public var size: Int64
    /// SHA-256 of the content, lower-case hex.
    public var sha256: String
    /// A raster image: shown as a thumbnail, may be the card's cover.
    public var image: Bool
    /// Who uploaded it (nil once the account is deleted).
    public var uploadedBy: Int64?
    /// Upload time.
    public var createdAt: Date
    /// The board version at which it was added.
    public var version: Int64
    /// Where members download it (with their session or token).
    public var url: String

    /// Creates an attachment; `url` follows from the ids.
    public init(
        id: Int64,
        boardID: Int64,
        cardID: Int64,
        name: String,
        contentType: String,
        size: Int64,
        sha256: String,
        uploadedBy: Int64?,
        createdAt: Date,
        version: Int64
    ) {
        self.id = id
        self.boardID = boardID
        self.cardID = cardID
        self.name = name
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.image = contentType.hasPrefix("image/")
        self.uploadedBy = uploadedBy
        self.createdAt = createdAt
        self.version = version
        self.url = "/api/v1/boards/\(boardID)/cards/\(cardID)/attachments/\(id)"
    }
}

/// A file written to storage, about to be recorded as an attachment.
public struct NewAttachment: Sendable {
    /// Sanitised display name.
    public var name: String
    /// The decided type.
    public var type: AttachmentType
    /// Size in bytes.
    public var size: Int64
    /// SHA-256, lower-case hex.
    public var sha256: String
    /// Where the file is (`AttachmentFiles.path(ofKey:)`).
    public var storageKey: String

    /// Creates the description of an uploaded file.
    public init(name: String, type: AttachmentType, size: Int64, sha256: String, storageKey: String) {
        self.name = name
        self.type = type
        self.size = size
        self.sha256 = sha256
        self.storageKey = storageKey
    }
}

extension BoardStore {
    /// An attachment's columns, its storage key last.
    static let attachmentColumns =
        "a.id, a.board_id, a.card_id, a.name, a.content_type, a.size, a.sha256, a.uploaded_by, a.created_at, a.version, a.storage_key"

    /// A row of `attachmentColumns`: the attachment and its storage key.
    static func decodeAttachment(_ row: PostgresRow) throws -> (Attachment, storageKey: String) {
        let (id, board, card, name, type, size, sha, by, created, version, key) =
            try row.decode((Int64, Int64, Int64, String, String, Int64, String, Int64?, Date, Int64, String).self)
        let attachment = Attachment(
            id: id,
            boardID: board,
            cardID: card,
            name: name,
            contentType: type,
            size: size,
            sha256: sha,
            uploadedBy: by,
            createdAt: created,
            version: version
        )
        return (attachment, key)
    }

    /// The attachments of a card of the board, oldest first.
    public func attachments(boardID: Int64, cardID: Int64) async throws -> [Attachment] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT \(unescaped: Self.attachmentColumns) FROM attachments a
            WHERE a.card_id = \(cardID) AND a.board_id = \(boardID)
            ORDER BY a.id
            """,
            logger: logger
        )
        var result: [Attachment] = []
        for try await row in rows { result.append(try Self.decodeAttachment(row).0) }
        return result
    }

    /// One attachment of a card with its storage key; 404 when it is not on that card of the board.
    public func attachment(boardID: Int64, cardID: Int64, attachmentID: Int64) async throws -> (Attachment, storageKey: String) {
        let rows = try await postgres.boundedQuery(
            """
            SELECT \(unescaped: Self.attachmentColumns) FROM attachments a
            WHERE a.id = \(attachmentID) AND a.card_id = \(cardID) AND a.board_id = \(boardID)
            """,
            logger: logger
        )
        for try await row in rows { return try Self.decodeAttachment(row) }
        throw BoardError(.notFound("attachment"))
    }

    /// Bytes the board's attachments take.
    public func attachmentBytes(boardID: Int64) async throws -> Int64 {
        let rows = try await postgres.boundedQuery(
            "SELECT COALESCE(sum(size), 0)::BIGINT FROM attachments WHERE board_id = \(boardID)",
            logger: logger
        )
        for try await total in rows.decode(Int64.self) { return total }
        return 0
    }

    /// Records a file already written to storage as an attachment of the card (member), unless the
    /// board's attachments would then take more than `quota` bytes (413 `quota_exceeded`). The
    /// quota is checked under the board's row lock, so two uploads at once cannot both squeeze in.
    /// The caller deletes the file when this throws.
    public func createAttachment(
        boardID: Int64,
        cardID: Int64,
        actorID: Int64,
        file: NewAttachment,
        quota: Int64
    ) async throws -> (Attachment, BoardEvent) {
        let logger = self.logger
        return try await write(boardID: boardID, actorID: actorID, minimum: .member) { write -> (Attachment, BoardEventDraft) in
            let tx = write.tx
            let used = try await tx.query(
                """
                SELECT (SELECT count(*) FROM cards WHERE id = \(cardID) AND board_id = \(boardID))::BIGINT,
                       (SELECT COALESCE(sum(size), 0) FROM attachments WHERE board_id = \(boardID))::BIGINT
                """,
                logger: logger
            )
            for try await (cards, bytes) in used.decode((Int64, Int64).self) {
                guard cards == 1 else { throw BoardError(.notFound("card")) }
                guard bytes + file.size <= quota else { throw BoardError(.quotaExceeded(quota: quota, used: bytes)) }
            }
            let rows = try await tx.query(
                """
                INSERT INTO attachments (board_id, card_id, name, content_type, size, sha256, storage_key, uploaded_by, version)
                VALUES (\(boardID), \(cardID), \(file.name), \(file.type.contentType), \(file.size), \(file.sha256), \(file.storageKey),
                        \(actorID), \(write.version))
                RETURNING id, created_at
                """,
                logger: logger
            )
            for try await (id, createdAt) in rows.decode((Int64, Date).self) {
                let attachment = Attachment(
                    id: id,
                    boardID: boardID,
                    cardID: cardID,
                    name: file.name,
                    contentType: file.type.contentType,
                    size: file.size,
                    sha256: file.sha256,
                    uploadedBy: actorID,
                    createdAt: createdAt,
                    version: write.version
                )
                return (attachment, BoardEventDraft(kind: "attachment.added", cardID: cardID, payload: attachment))
            }
            throw BoardError(.notFound("card"))
        }
    }

    /// Deletes an attachment (member). Its file goes with the row (`AttachmentFiles.purge`). When it
    /// was the card's cover, the card loses its cover in the same write, with its own
    /// `card.updated` event after the `attachment.deleted` one. Returns the write's events.
    public func deleteAttachment(boardID: Int64, cardID: Int64, attachmentID: Int64, actorID: Int64) async throws -> [BoardEvent] {
        let logger = self.logger
        return try await commit(.existing(boardID), actorIDs: [actorID]) { write -> (Void, [BoardEventDraft]) in
            _ = try Self.check(write.board.roles[0], minimum: .member)
            let tx = write.tx
            // The cover first: deleting the row would clear it without a version (ON DELETE SET NULL).
            let uncovered = try await tx.query(
                """
                UPDATE cards SET cover_attachment_id = NULL, version = \(write.version + 1), updated_at = now()
                WHERE id = \(cardID) AND board_id = \(boardID) AND cover_attachment_id = \(attachmentID)
                  AND EXISTS (SELECT 1 FROM attachments WHERE id = \(attachmentID) AND card_id = \(cardID) AND board_id = \(boardID))
                RETURNING id
                """,
                logger: logger
            )
            var coverCleared = false
            for try await _ in uncovered.decode(Int64.self) { coverCleared = true }
            let rows = try await tx.query(
                """
                DELETE FROM attachments WHERE id = \(attachmentID) AND card_id = \(cardID) AND board_id = \(boardID) RETURNING id
                """,
                logger: logger
            )
            var found = false
            for try await _ in rows.decode(Int64.self) { found = true }
            guard found else { throw BoardError(.notFound("attachment")) }
            var drafts = [
                BoardEventDraft(
                    kind: "attachment.deleted",
                    cardID: cardID,
                    payload: DeletedAttachment(id: attachmentID, cardID: cardID),
                    actorID: actorID
                )
            ]
            if coverCleared, let card = try await self.cards(boardID: boardID, cardID: cardID, includeArchived: true, on: tx).first {
                drafts.append(BoardEventDraft(kind: "card.updated", cardID: cardID, payload: card, actorID: actorID))
            }
            return ((), drafts)
        }.1
    }

    /// Inside a card update: checks that `attachmentID` may be the card's cover (an image attached
    /// to that card).
    func checkCover(_ attachmentID: Int64, boardID: Int64, cardID: Int64, on tx: PostgresConnection) async throws {
        let rows = try await tx.query(
            """
            SELECT content_type FROM attachments WHERE id = \(attachmentID) AND card_id = \(cardID) AND board_id = \(boardID)
            """,
            logger: logger
        )
        for try await type in rows.decode(String.self) {
            guard type.hasPrefix("image/") else {
                throw BoardError(.invalid(field: "cover_attachment_id", message: "cover_attachment_id must be an image (PNG, JPEG, GIF or WebP)."))
            }
            return
        }
        throw BoardError(.invalid(field: "cover_attachment_id", message: "cover_attachment_id is not an attachment of this card."))
    }
}

/// The payload of `attachment.deleted`.
struct DeletedAttachment: Encodable {
    var id: Int64
    var cardID: Int64
}
