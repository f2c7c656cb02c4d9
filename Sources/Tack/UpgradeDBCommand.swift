import ArgumentParser
import Foundation
import Logging
import TackCore

/// `upgrade_db`: applies pending migrations; safe to start on many nodes at once.
struct UpgradeDBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade_db",
        abstract: "Apply pending database migrations (safe to run on several nodes at once)."
    )

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            let (loaded, logger, migrations) = try options.command("upgrade_db").parts
            // A transaction pooler breaks the session advisory lock migrations hold: use the direct URL.
            var direct = loaded
            direct.database = try loaded.database.forMigrations()
            let config = direct
            if !config.database.migrateURL.isEmpty { say("using database.migrate_url (\(config.database.displayTarget))") }
            let showStatus = status
            try await Clients.withClients(config, logger: logger) { postgres, _ in
                _ = try await Clients.checkPostgres(postgres, config: config, logger: logger)
                let migrator = Migrator(client: postgres, migrations: migrations, logger: logger)
                if showStatus {
                    let current = try await migrator.status()
                    for row in current.applied {
                        say("applied  \(row.fileName)  \(Timestamp.string(from: row.appliedAt))  by \(row.appliedBy)")
                    }
                    for file in current.pending { say("pending  \(file.fileName)") }
                    for problem in current.problems { say("problem  \(problem.description)") }
                    say("schema version \(current.schemaVersion), \(current.pending.count) pending")
                    if let problem = current.problems.first { throw problem }
                    return
                }
                let applied = try await migrator.upgrade(nodeName: config.nodeName) {
                    say("another node is upgrading the database; waiting for it to finish")
                }
                if applied.isEmpty {
                    say("database is up to date (schema version \(migrations.last?.version ?? 0))")
                } else {
                    for migration in applied { say("applied \(migration.fileName)") }
                    say("database upgraded to schema version \(applied.last!.version)")
                }
            }
        }
    }
}
