import CArchive
import Foundation

/// A ZIP file written with libarchive: entries one after another, a file's content copied in
/// 64 KiB chunks (never a whole attachment in memory), names stored as UTF-8, ZIP64 where an
/// entry needs it. Blocking file I/O: use it on a thread pool, never on the cooperative pool.
final class ZipWriter {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let archive: OpaquePointer

    /// Creates (or truncates) the ZIP file at `path`.
    init(path: String) throws {
        guard let archive = archive_write_new() else { throw Failure(description: "libarchive could not allocate a writer") }
        self.archive = archive
        guard archive_write_set_format_zip(archive) == ARCHIVE_OK,
            archive_write_zip_set_compression_deflate(archive) == ARCHIVE_OK,
            archive_write_set_options(archive, "zip:hdrcharset=UTF-8") == ARCHIVE_OK,
            archive_write_open_filename(archive, path) == ARCHIVE_OK
        else {
            let error = Self.message(archive)
            archive_write_free(archive)
            throw Failure(description: "cannot create \(path): \(error)")
        }
    }

    deinit {
        // Frees the writer (closing it first when `close` was not reached, as after an error).
        archive_write_free(archive)
    }

    /// Adds `bytes` as the file `name`.
    func add(name: String, bytes: [UInt8], modified: Date) throws {
        try header(name: name, size: Int64(bytes.count), modified: modified)
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Adds the file at `path` as `name`, `size` bytes long (as recorded; a file that turns out
    /// shorter or longer is an error rather than a silently wrong archive).
    func add(name: String, contentsOf path: String, size: Int64, modified: Date) throws {
        guard let file = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot open \(path)") }
        defer { try? file.close() }
        try header(name: name, size: size, modified: modified)
        var copied: Int64 = 0
        while let chunk = try file.read(upToCount: 64 * 1024), !chunk.isEmpty {
            copied += Int64(chunk.count)
            guard copied <= size else { break }
            try chunk.withUnsafeBytes { try write($0) }
        }
        guard copied == size else { throw Failure(description: "\(path) holds \(copied) bytes, not the \(size) recorded") }
    }

    /// Writes the central directory and closes the file.
    func close() throws {
        guard archive_write_close(archive) == ARCHIVE_OK else { throw Failure(description: Self.message(archive)) }
    }

    private func header(name: String, size: Int64, modified: Date) throws {
        guard let entry = archive_entry_new() else { throw Failure(description: "libarchive could not allocate an entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, name)
        archive_entry_set_filetype(entry, 0o100000)  // AE_IFREG, a regular file
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, time_t(modified.timeIntervalSince1970), 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw Failure(description: "\(name): \(Self.message(archive))") }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard archive_write_data(archive, base, bytes.count) == bytes.count else { throw Failure(description: Self.message(archive)) }
    }

    private static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "error \(archive_errno(archive))"
    }
}
