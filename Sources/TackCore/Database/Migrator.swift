import Foundation
import Logging
import PostgresNIO

/// Applies `migrations/` to the shared database, safely from several nodes at once.
///
/// Concurrency: the run holds a session advisory lock taken with `pg_try_advisory_lock` in a poll
/// loop; a blocking `pg_advisory_lock` would deadlock with `CREATE INDEX CONCURRENTLY`, which waits
/// for every other transaction, including the one blocked on the lock. Once locked, state is read
/// again, so a node that waited finds the work done and reports "up to date".
public struct Migrator: Sendable {
    /// What `status` found.
    public struct Status: Sendable {
        /// Migrations in the database, with the file they match when there is one.
        public var applied: [AppliedMigration]
        /// Files not yet applied.
        public var pending: [Migration]
        /// Problems that make the database unusable by this release (edited file, newer database).
        public var problems: [TackError]
        /// The highest applied version, or 0.
        public var schemaVersion: Int { applied.map(\.version).max() ?? 0 }
    }

    /// A row of the bookkeeping table.
    public struct AppliedMigration: Sendable {
        /// Version number.
        public var version: Int
        /// File name when it was applied.
        public var fileName: String
        /// SHA-256 recorded when applied.
        public var sha256: String
        /// When it was applied.
        public var appliedAt: Date
        /// The node that applied it.
        public var appliedBy: String
    }

    /// The advisory lock key: "tack" in ASCII, shared by every node.
    public static let lockKey: Int64 = 0x7461636B_6D696772

    let client: PostgresClient
    let migrations: [Migration]
    let logger: Logger

    /// Creates a migrator for these files.
    public init(client: PostgresClient, migrations: [Migration], logger: Logger) {
        self.client = client
        self.migrations = migrations
        self.logger = logger
    }

    /// Reads the applied rows and compares them with the files.
    public func status() async throws -> Status {
        try await client.withConnection { connection in try await self.status(on: connection) }
    }

    /// Throws `schemaMismatch` unless the schema is exactly this release's: roles call it before starting.
    public func requireCurrent() async throws {
        let status = try await status()
        if let problem = status.problems.first { throw problem }
        if let first = status.pending.first {
            throw TackError(
                .schemaMismatch,
                subject: "database",
                "\(status.pending.count) migration(s) pending, starting with \(first.fileName); run `./platform upgrade_db` first"
            )
        }
    }

    /// Applies pending migrations under the advisory lock. `onWait` is called once when another node holds it.
    /// Returns the migrations this call applied (empty when already up to date).
    public func upgrade(nodeName: String, onWait: @Sendable () -> Void = {}) async throws -> [Migration] {
        try await client.withConnection { connection in
            var announced = false
            while true {
                let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: logger)
                var locked = false
                for try await value in rows.decode(Bool.self) { locked = value }
                if locked { break }
                if !announced {
                    onWait()
                    announced = true
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            do {
                let applied = try await self.applyPending(on: connection, nodeName: nodeName)
                _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    private func applyPending(on connection: PostgresConnection, nodeName: String) async throws -> [Migration] {
        // Bookkeeping lives beside the schema; created here, under the lock, never at process start.
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS tack_schema_migrations (
                version INTEGER PRIMARY KEY,
                file_name TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                applied_by TEXT NOT NULL
            )
            """,
            logger: logger
        )
        let status = try await status(on: connection)
        if let problem = status.problems.first { throw problem }
        var done: [Migration] = []
        for migration in status.pending {
            logger.info("applying migration", metadata: ["tack.migration": "\(migration.fileName)"])
            do {
                if migration.transactional {
                    try await connection.withTransaction(logger: logger) { tx in
                        try await self.execute(migration, on: tx)
                        try await self.record(migration, nodeName: nodeName, on: tx)
                    }
                } else {
                    try await execute(migration, on: connection)
                    try await record(migration, nodeName: nodeName, on: connection)
                }
            } catch {
                throw TackError(
                    .migrationFailed,
                    subject: "migrations/\(migration.fileName)",
                    "failed, nothing of it was kept: \(Database.reason(error))"
                )
            }
            done.append(migration)
        }
        return done
    }

    /// Runs the file's statements one by one (the extended protocol takes one statement per message).
    private func execute(_ migration: Migration, on connection: PostgresConnection) async throws {
        for statement in SQLStatements.split(migration.sql) {
            // The file is trusted schema text shipped with the release, not user input.
            _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    private func record(_ migration: Migration, nodeName: String, on connection: PostgresConnection) async throws {
        _ = try await connection.query(
            """
            INSERT INTO tack_schema_migrations (version, file_name, sha256, applied_by)
            VALUES (\(migration.version), \(migration.fileName), \(migration.sha256), \(nodeName))
            """,
            logger: logger
        )
    }

    private func status(on connection: PostgresConnection) async throws -> Status {
        let exists = try await connection.query("SELECT to_regclass('tack_schema_migrations') IS NOT NULL", logger: logger)
        var tableExists = false
        for try await value in exists.decode(Bool.self) { tableExists = value }
        var applied: [AppliedMigration] = []
        if tableExists {
            let rows = try await connection.query(
                """
                SELECT version, file_name, sha256, applied_at, applied_by
                FROM tack_schema_migrations
                ORDER BY version
                """,
                logger: logger
            )
            for try await (version, fileName, sha, at, by) in rows.decode((Int, String, String, Date, String).self) {
                applied.append(AppliedMigration(version: version, fileName: fileName, sha256: sha, appliedAt: at, appliedBy: by))
            }
        }
        let byVersion = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        var problems: [TackError] = []
        for row in applied {
            guard let file = byVersion[row.version] else {
                problems.append(
                    TackError(
                        .schemaMismatch,
                        subject: row.fileName,
                        "is applied in the database but this release has no such migration: the database is newer than this binary; upgrade Tack on this node"
                    )
                )
                continue
            }
            if file.sha256 != row.sha256 {
                problems.append(
                    TackError(
                        .schemaMismatch,
                        subject: "migrations/\(file.fileName)",
                        "was edited after it was applied (SHA-256 differs); restore the original file and put the change in a new migration"
                    )
                )
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        let pending = migrations.filter { !appliedVersions.contains($0.version) }
        if let maxApplied = applied.map(\.version).max(), let first = pending.first, first.version < maxApplied {
            problems.append(
                TackError(
                    .schemaMismatch,
                    subject: "migrations/\(first.fileName)",
                    "is older than migrations already applied (up to \(maxApplied)); number new migrations after the last one"
                )
            )
        }
        return Status(applied: applied, pending: pending, problems: problems)
    }
}
