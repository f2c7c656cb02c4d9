import Foundation
import Logging
import NIOPosix
import PostgresNIO
import TackCore

/// `exports.board`: writes a board under the storage directory, through a temporary file renamed
/// into place, then marks the export ready. Idempotent: a ready export is left alone, a
/// half-written file is replaced. Formats:
/// - `json`: everything (columns, cards with assignees, labels, comments, checklists and their
///   attachments' metadata with a download path, members, labels);
/// - `csv`: one row per card;
/// - `zip`: `board.json` (the JSON export) and every attachment's file as
///   `attachments/<attachment id>/<name>`, so the export keeps the files when the board is gone.
public struct BoardExportJobs: JobHandler {
    /// The job kind.
    public static let kind = ExportJobArguments.kind

    let postgres: PostgresClient
    let store: ExportStore
    let attachments: AttachmentFiles
    let logger: Logger

    /// Creates the handler; `attachments` is where the `zip` format reads attachment files.
    public init(postgres: PostgresClient, store: ExportStore, attachments: AttachmentFiles, logger: Logger) {
        self.postgres = postgres
        self.store = store
        self.attachments = attachments
        self.logger = logger
    }

    public var kinds: [String] { [Self.kind] }

    public func perform(_ job: Job) async throws {
        let id = try job.decode(ExportJobArguments.self).exportID
        // Marks the export's job alive (see LostJobRequeue) as it reads the export.
        let rows = try await postgres.boundedQuery(
            "UPDATE exports SET enqueued_at = now() WHERE id = \(id) RETURNING board_id, format, status",
            logger: logger
        )
        var found: (Int64, String, String)?
        for try await row in rows.decode((Int64, String, String).self) { found = row }
        guard let (boardID, format, status) = found, status == "pending" else { return }
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        let final = (store.directory as NSString).appendingPathComponent("\(id).\(format)")
        let temporary = final + ".tmp-\(NewJob.randomID().prefix(8))"
        let bytes: Int64
        do {
            if format == "zip" {
                bytes = try await zip(boardID, to: temporary)
            } else {
                let content = format == "csv" ? try await csv(boardID) : try await json(boardID)
                guard FileManager.default.createFile(atPath: temporary, contents: Data(content), attributes: [.posixPermissions: 0o640]) else {
                    throw JobFailure.retry("cannot write \(temporary)")
                }
                bytes = Int64(content.count)
            }
            guard rename(temporary, final) == 0 else { throw JobFailure.retry("cannot move the export into place at \(final)") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        try await postgres.boundedQuery(
            """
            UPDATE exports SET status = 'ready', file_name = \(final), bytes = \(bytes), finished_at = now()
            WHERE id = \(id) AND status = 'pending'
            """,
            logger: logger
        )
        logger.info("board exported", metadata: ["tack.export.id": "\(id)", "tack.board.id": "\(boardID)", "tack.export.bytes": "\(bytes)"])
    }

    /// Writes the `zip` export of `boardID` to `path` (on NIO's blocking thread pool); returns its size.
    /// An attachment whose file is missing from storage is left out and logged; the board's JSON
    /// still lists it.
    func zip(_ boardID: Int64, to path: String) async throws -> Int64 {
        let document = try await json(boardID)
        let rows = try await postgres.boundedQuery(
            "SELECT id, name, storage_key, size, created_at FROM attachments WHERE board_id = \(boardID) ORDER BY id",
            logger: logger
        )
        var found: [(id: Int64, name: String, key: String, size: Int64, created: Date)] = []
        for try await row in rows.decode((Int64, String, String, Int64, Date).self) { found.append(row) }
        let files = found
        let attachments = self.attachments
        let logger = self.logger
        return try await NIOThreadPool.singleton.runIfActive {
            let zip = try ZipWriter(path: path)
            try zip.add(name: "board.json", bytes: document, modified: Date())
            for file in files where AttachmentFiles.isKey(file.key) {
                let source = attachments.path(ofKey: file.key)
                guard FileManager.default.fileExists(atPath: source) else {
                    logger.error(
                        "an attachment's file is missing from storage; the export goes without it",
                        metadata: ["tack.board.id": "\(boardID)", "tack.attachment.id": "\(file.id)"]
                    )
                    continue
                }
                try zip.add(name: "attachments/\(file.id)/\(file.name)", contentsOf: source, size: file.size, modified: file.created)
            }
            try zip.close()
            chmod(path, 0o640)
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
            guard let size else { throw JobFailure.retry("cannot read the size of \(path)") }
            return size
        }
    }

    /// The whole board as one JSON document, built by PostgreSQL.
    func json(_ boardID: Int64) async throws -> [UInt8] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT json_build_object(
                'exported_at', now(),
                'board', (SELECT json_build_object('id', b.id, 'name', b.name, 'description', b.description, 'version', b.version,
                                                   'created_at', b.created_at, 'archived', b.archived_at IS NOT NULL)
                          FROM boards b WHERE b.id = \(boardID)),
                'members', coalesce((SELECT json_agg(json_build_object('user_id', u.id, 'name', u.name, 'email', u.email, 'role', m.role) ORDER BY u.id)
                                     FROM board_members m JOIN users u ON u.id = m.user_id WHERE m.board_id = \(boardID)), '[]'),
                'labels', coalesce((SELECT json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.id)
                                    FROM labels l WHERE l.board_id = \(boardID)), '[]'),
                'columns', coalesce((SELECT json_agg(json_build_object('id', c.id, 'name', c.name, 'wip_limit', c.wip_limit) ORDER BY c.position)
                                     FROM columns c WHERE c.board_id = \(boardID)), '[]'),
                'cards', coalesce((SELECT json_agg(json_build_object(
                        'id', k.id, 'column_id', k.column_id, 'title', k.title, 'description', k.description, 'due_at', k.due_at, 'due_has_time', k.due_has_time,
                        'done', k.done, 'archived', k.archived, 'created_by', k.created_by, 'created_at', k.created_at, 'updated_at', k.updated_at,
                        'assignees', coalesce((SELECT json_agg(a.user_id ORDER BY a.user_id) FROM card_assignees a WHERE a.card_id = k.id), '[]'),
                        'labels', coalesce((SELECT json_agg(cl.label_id ORDER BY cl.label_id) FROM card_labels cl WHERE cl.card_id = k.id), '[]'),
                        'comments', coalesce((SELECT json_agg(json_build_object('id', m.id, 'author_id', m.author_id, 'body', m.body,
                                                                                'created_at', m.created_at, 'edited_at', m.edited_at) ORDER BY m.id)
                                              FROM comments m WHERE m.card_id = k.id), '[]'),
                        'checklists', coalesce((SELECT json_agg(json_build_object('id', l.id, 'title', l.title,
                            'items', coalesce((SELECT json_agg(json_build_object('id', i.id, 'text', i.text, 'done', i.done,
                                                                               'assignee_id', i.assignee_id, 'due_at', i.due_at) ORDER BY i.position, i.id)
                                               FROM checklist_items i WHERE i.checklist_id = l.id), '[]')) ORDER BY l.position, l.id)
                                                FROM checklists l WHERE l.card_id = k.id), '[]'),
                        'cover_attachment_id', k.cover_attachment_id,
                        'attachments', coalesce((SELECT json_agg(json_build_object(
                                'id', f.id, 'name', f.name, 'content_type', f.content_type, 'size', f.size, 'sha256', f.sha256,
                                'uploaded_by', f.uploaded_by, 'created_at', f.created_at,
                                'url', '/api/v1/boards/' || f.board_id || '/cards/' || f.card_id || '/attachments/' || f.id) ORDER BY f.id)
                                              FROM attachments f WHERE f.card_id = k.id), '[]'))
                        ORDER BY col.position, k.position)
                    FROM cards k JOIN columns col ON col.id = k.column_id WHERE k.board_id = \(boardID)), '[]')
            )::text
            """,
            logger: logger
        )
        for try await text in rows.decode(String.self) { return Array(text.utf8) }
        throw JobFailure.permanent("board \(boardID) no longer exists")
    }

    /// One row per card: id, column, title, description, done, archived, due, assignees, labels, created, updated.
    func csv(_ boardID: Int64) async throws -> [UInt8] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT k.id, col.name, k.title, k.description, k.done, k.archived, k.due_at, k.created_at, k.updated_at,
                   coalesce((SELECT string_agg(u.email, '; ' ORDER BY u.email) FROM card_assignees a JOIN users u ON u.id = a.user_id WHERE a.card_id = k.id), ''),
                   coalesce((SELECT string_agg(l.name, '; ' ORDER BY l.name) FROM card_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.card_id = k.id), '')
            FROM cards k JOIN columns col ON col.id = k.column_id
            WHERE k.board_id = \(boardID)
            ORDER BY col.position, k.position
            """,
            logger: logger
        )
        var out = "id,column,title,description,done,archived,due_at,created_at,updated_at,assignees,labels\r\n"
        for try await (id, column, title, description, done, archived, due, created, updated, assignees, labels)
            in rows.decode((Int64, String, String, String, Bool, Bool, Date?, Date, Date, String, String).self)
        {
            let fields = [
                String(id), column, title, description, done ? "true" : "false", archived ? "true" : "false",
                due.map { Timestamp.string(from: $0) } ?? "", Timestamp.string(from: created), Timestamp.string(from: updated), assignees, labels,
            ]
            out += fields.map(Self.csvField).joined(separator: ",") + "\r\n"
        }
        return Array(out.utf8)
    }

    /// RFC 4180 quoting; a text starting with = + - @ (or tab/CR) is prefixed with ' so spreadsheets
    /// do not run it as a formula (CSV injection).
    static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first), Int(text) == nil { text = "'" + text }
        guard text.contains(where: { ",\"\n\r".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
