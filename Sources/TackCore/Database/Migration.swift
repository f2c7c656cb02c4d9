import Crypto
import Foundation

/// One file of `migrations/`: `NNNN_snake_case.sql`, forward only, never edited once applied.
public struct Migration: Sendable, Equatable {
    /// The number prefix.
    public let version: Int
    /// The file name, e.g. `0001_core.sql`.
    public let fileName: String
    /// The SQL text.
    public let sql: String
    /// Hex SHA-256 of the file bytes, stored when applied so an edited file is noticed.
    public let sha256: String
    /// False when the file opts out of the wrapping transaction with a first line
    /// `-- tack:no-transaction` (needed for `CREATE INDEX CONCURRENTLY`).
    public let transactional: Bool

    /// Reads and validates every migration in `directory`, sorted by version.
    public static func loadAll(from directory: String) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw TackError(.fileError, subject: directory, "cannot list the migrations directory; is this a complete Tack installation?")
        }
        var result: [Migration] = []
        var seen: [Int: String] = [:]
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard let version = parseVersion(name) else {
                throw TackError(.fileError, subject: "migrations/\(name)", "migration files are named NNNN_snake_case.sql")
            }
            if let other = seen[version] {
                throw TackError(.fileError, subject: "migrations/\(name)", "has the same number as \(other)")
            }
            seen[version] = name
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let sql = String(data: data, encoding: .utf8) else {
                throw TackError(.fileError, subject: "migrations/\(name)", "cannot be read as UTF-8 text")
            }
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            let firstLine = sql.split(separator: "\n", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            result.append(
                Migration(
                    version: version,
                    fileName: name,
                    sql: sql,
                    sha256: digest,
                    transactional: firstLine != "-- tack:no-transaction"
                )
            )
        }
        return result.sorted { $0.version < $1.version }
    }

    static func parseVersion(_ name: String) -> Int? {
        let stem = name.dropLast(4)
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), version > 0,
            parts[1].allSatisfy({ ($0.isASCII && $0.isLowercase) || $0.isNumber || $0 == "_" })
        else { return nil }
        return version
    }
}
