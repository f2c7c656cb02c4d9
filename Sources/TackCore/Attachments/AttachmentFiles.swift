import Foundation
import Logging
import NIOPosix
import PostgresNIO

/// Where attachment files live: `node.storage_dir/attachments/<k0k1>/<key>`, named by a random
/// 32-hex key chosen at upload (never by the uploader's file name, so no name can reach another
/// path). Every web node must see the same directory (shared storage such as NFS when there are
/// several nodes): a file uploaded through one node is downloaded through any.
///
/// Files are removed through the `attachment_removals` table: a trigger records the key of every
/// attachment row deleted (one at a time, with its card, with its board), and `purge` deletes the
/// recorded files, then their records. The web role purges right after a delete; the worker's sweep
/// catches what a process stopped before it could.
///
/// A file with no row at all (its web process stopped between writing it and recording it, or a
/// `.tmp-` file of an upload cut off on a file system without `O_TMPFILE`, such as NFS) is found by
/// `removeOrphans`, which the worker runs every hour: only files untouched for a day, so no upload in
/// progress or about to be recorded is touched.
public struct AttachmentFiles: Sendable {
    let postgres: PostgresClient
    /// `node.storage_dir/attachments`.
    public let directory: String
    let logger: Logger

    /// Creates the file store under `storageDirectory/attachments`.
    public init(postgres: PostgresClient, storageDirectory: String, logger: Logger) {
        self.postgres = postgres
        self.directory = (storageDirectory as NSString).appendingPathComponent("attachments")
        self.logger = logger
    }

    /// A fresh random storage key.
    public static func newKey() -> String { NewJob.randomID() }

    /// Whether `key` has the shape `newKey` makes (checked before it becomes part of a path).
    public static func isKey(_ key: String) -> Bool {
        key.utf8.count == 32 && key.utf8.allSatisfy(isHexDigit)
    }

    /// 0-9 or a-f.
    static func isHexDigit(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) }

    /// The file of `key`, in a folder named by its first two characters (256 folders, so no folder
    /// grows past what file systems list quickly).
    public func path(ofKey key: String) -> String {
        precondition(Self.isKey(key), "attachment storage keys are 32 lower-case hex characters")
        return (directory as NSString).appendingPathComponent(String(key.prefix(2)) + "/" + key)
    }

    /// Creates the folder `path(ofKey:)` goes into.
    public func prepareFolder(forKey key: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path(ofKey: key) as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750]
        )
    }

    /// Deletes the file of `key` if it exists (an upload that could not be recorded).
    public func remove(key: String) {
        guard Self.isKey(key) else { return }
        if unlink(path(ofKey: key)) != 0, errno != ENOENT {
            logger.error("cannot delete an attachment file", metadata: ["tack.attachment.key": "\(key)", "tack.errno": "\(errno)"])
        }
    }

    /// How long a file without a row is left alone before `removeOrphans` deletes it.
    public static let orphanAge: Duration = .seconds(24 * 3600)

    /// Deletes the files in the key folders that no attachment row names and that nobody has
    /// written for `orphanAge`: key-named files without a row and `.tmp-` files of cut-off uploads.
    /// Anything else is left alone. Keys are checked against PostgreSQL in batches of `batch`.
    /// Returns how many files it deleted.
    @discardableResult
    public func removeOrphans(olderThan age: Duration = orphanAge, batch: Int = 1000) async throws -> Int {
        // The walk (a stat per file) is blocking file I/O: on NIO's thread pool, not the cooperative pool.
        let directory = self.directory
        let (removedTemporary, candidates) = try await NIOThreadPool.singleton.runIfActive {
            Self.walkForOrphans(directory, cutoff: Date().addingTimeInterval(-Double(age.components.seconds)))
        }
        var removed = removedTemporary
        for start in stride(from: 0, to: candidates.count, by: batch) {
            let keys = Array(candidates[start..<min(start + batch, candidates.count)])
            let rows = try await postgres.boundedQuery("SELECT storage_key FROM attachments WHERE storage_key = ANY(\(keys))", logger: logger)
            var recorded = Set<String>()
            for try await key in rows.decode(String.self) { recorded.insert(key) }
            for key in keys where !recorded.contains(key) && unlink(path(ofKey: key)) == 0 { removed += 1 }
        }
        if removed > 0 {
            logger.notice("removed attachment files that no attachment names", metadata: ["tack.attachment.files": "\(removed)"])
        }
        return removed
    }

    /// In the 256 key folders under `directory`, deletes the `.tmp-` files last written before
    /// `cutoff` and lists the key-named files last written before it; returns how many it deleted
    /// and the keys.
    static func walkForOrphans(_ directory: String, cutoff: Date) -> (removed: Int, keys: [String]) {
        let manager = FileManager.default
        func old(_ path: String) -> Bool {
            guard let modified = (try? manager.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { return false }
            return modified < cutoff
        }
        var removed = 0
        var keys: [String] = []
        let folders = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
        for folder in folders.sorted() where folder.utf8.count == 2 && folder.utf8.allSatisfy(isHexDigit) {
            let folderPath = (directory as NSString).appendingPathComponent(folder)
            for name in (try? manager.contentsOfDirectory(atPath: folderPath)) ?? [] {
                let file = (folderPath as NSString).appendingPathComponent(name)
                if name.hasPrefix(".tmp-") {
                    if old(file), unlink(file) == 0 { removed += 1 }
                } else if isKey(name), name.hasPrefix(folder), old(file) {
                    keys.append(name)
                }
            }
        }
        return (removed, keys)
    }

    /// Deletes the files of deleted attachments, up to `limit` of them, and forgets them; returns
    /// how many. A file already gone counts as deleted; one that cannot be deleted stays recorded
    /// for the next sweep.
    @discardableResult
    public func purge(limit: Int = 500) async throws -> Int {
        let rows = try await postgres.boundedQuery(
            "SELECT storage_key FROM attachment_removals ORDER BY removed_at LIMIT \(limit)",
            logger: logger
        )
        var done: [String] = []
        for try await key in rows.decode(String.self) {
            guard Self.isKey(key) else {
                done.append(key)
                continue
            }
            if unlink(path(ofKey: key)) == 0 || errno == ENOENT {
                done.append(key)
            } else {
                logger.error("cannot delete an attachment file", metadata: ["tack.attachment.key": "\(key)", "tack.errno": "\(errno)"])
            }
        }
        guard !done.isEmpty else { return 0 }
        try await postgres.boundedQuery("DELETE FROM attachment_removals WHERE storage_key = ANY(\(done))", logger: logger)
        return done.count
    }
}
