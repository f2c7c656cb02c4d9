import Foundation
import PostgresNIO
import TackTestSupport
import Testing

@testable import TackCore

@Suite("Migrations against a real PostgreSQL")
struct MigratorTests {
    let logger = Logger(label: "tack.test")

    func migrations(_ files: [String: String]) throws -> [Migration] {
        let dir = NSTemporaryDirectory() + "tack-migrations-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, sql) in files { try sql.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return try Migration.loadAll(from: dir)
    }

    func count(_ client: PostgresClient, _ table: String) async throws -> Int {
        let rows = try await client.query("SELECT count(*)::BIGINT FROM \(unescaped: table)")
        for try await n in rows.decode(Int.self) { return n }
        return -1
    }

    @Test("the shipped migrations apply to an empty database and are then up to date")
    func shippedMigrationsApply() async throws {
        let shipped = try Migration.loadAll(from: TestServers.root + "/migrations")
        #expect(!shipped.isEmpty)
        try await TestServers.withDatabase(migrated: false) { _, client in
            let migrator = Migrator(client: client, migrations: shipped, logger: logger)
            #expect(try await migrator.status().pending.count == shipped.count)
            let applied = try await migrator.upgrade(nodeName: "test")
            #expect(applied.map(\.fileName) == shipped.map(\.fileName))
            #expect(try await migrator.upgrade(nodeName: "test").isEmpty)
            try await migrator.requireCurrent()
            #expect(try await migrator.status().schemaVersion == shipped.last!.version)
        }
    }

    @Test("three migrators at once: one applies, the others find it done, the schema is applied once")
    func concurrentUpgrades() async throws {
        let set = try migrations([
            "0001_a.sql": "CREATE TABLE a (id INT); INSERT INTO a VALUES (1);",
            "0002_b.sql": "-- tack:no-transaction\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);",
        ])
        try await TestServers.withDatabase(migrated: false) { _, client in
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<3 {
                    group.addTask { try await Migrator(client: client, migrations: set, logger: logger).upgrade(nodeName: "n\(i)").count }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results.sorted() == [0, 0, 2])
            #expect(try await count(client, "a") == 1)
            #expect(try await count(client, "tack_schema_migrations") == 2)
        }
    }

    @Test("a failing migration keeps nothing of itself and names the file")
    func failingMigrationRollsBack() async throws {
        let set = try migrations([
            "0001_a.sql": "CREATE TABLE a (id INT);",
            "0002_bad.sql": "CREATE TABLE b (id INT); SELECT * FROM no_such_table;",
        ])
        try await TestServers.withDatabase(migrated: false) { _, client in
            let migrator = Migrator(client: client, migrations: set, logger: logger)
            do {
                _ = try await migrator.upgrade(nodeName: "test")
                Issue.record("expected a failure")
            } catch let error as TackError {
                #expect(error.code == .migrationFailed)
                #expect(error.description.contains("0002_bad.sql"))
                #expect(error.description.contains("no_such_table"))
            }
            let status = try await migrator.status()
            #expect(status.applied.map(\.version) == [1])
            let rows = try await client.query("SELECT to_regclass('b') IS NULL")
            for try await missing in rows.decode(Bool.self) { #expect(missing) }
        }
    }

    @Test("an applied migration that was edited is refused, naming the file")
    func editedMigrationRefused() async throws {
        let original = try migrations(["0001_a.sql": "CREATE TABLE a (id INT);"])
        let edited = try migrations(["0001_a.sql": "CREATE TABLE a (id BIGINT);"])
        try await TestServers.withDatabase(migrated: false) { _, client in
            _ = try await Migrator(client: client, migrations: original, logger: logger).upgrade(nodeName: "test")
            let migrator = Migrator(client: client, migrations: edited, logger: logger)
            await #expect(throws: TackError.self) { try await migrator.upgrade(nodeName: "test") }
            do {
                try await migrator.requireCurrent()
            } catch let error as TackError {
                #expect(error.description.contains("0001_a.sql"))
                #expect(error.description.contains("edited"))
            }
        }
    }

    @Test("a database newer than the binary is refused, naming the unknown migration")
    func newerDatabaseRefused() async throws {
        let newer = try migrations(["0001_a.sql": "CREATE TABLE a (id INT);", "0002_b.sql": "CREATE TABLE b (id INT);"])
        let older = try migrations(["0001_a.sql": "CREATE TABLE a (id INT);"])
        try await TestServers.withDatabase(migrated: false) { _, client in
            _ = try await Migrator(client: client, migrations: newer, logger: logger).upgrade(nodeName: "test")
            do {
                try await Migrator(client: client, migrations: older, logger: logger).requireCurrent()
                Issue.record("expected a refusal")
            } catch let error as TackError {
                #expect(error.code == .schemaMismatch)
                #expect(error.description.contains("0002_b.sql"))
                #expect(error.description.contains("newer than this binary"))
            }
        }
    }

    @Test("pending migrations make requireCurrent name upgrade_db")
    func pendingRefused() async throws {
        let set = try migrations(["0001_a.sql": "CREATE TABLE a (id INT);"])
        try await TestServers.withDatabase(migrated: false) { _, client in
            do {
                try await Migrator(client: client, migrations: set, logger: logger).requireCurrent()
                Issue.record("expected a refusal")
            } catch let error as TackError {
                #expect(error.description.contains("./platform upgrade_db"))
            }
        }
    }

    @Test("badly named or duplicate migration files are refused")
    func fileNames() throws {
        #expect(throws: TackError.self) { try migrations(["1_a.sql": "SELECT 1;"]) }
        #expect(throws: TackError.self) { try migrations(["0001_A.sql": "SELECT 1;"]) }
        #expect(throws: TackError.self) { try migrations(["0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"]) }
    }
}

@Suite("Splitting migration files into statements")
struct SQLStatementsTests {
    @Test("semicolons inside strings, identifiers, comments and dollar quotes do not split")
    func hiddenSemicolons() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE "odd;name" (v TEXT DEFAULT 'a;b''c');
            /* block; /* nested; */ still comment; */
            CREATE FUNCTION f() RETURNS INT AS $body$ SELECT 1; $body$ LANGUAGE sql;
            INSERT INTO t VALUES (E'x\\';y');
            DO $$ BEGIN PERFORM 1; END $$;

            """
        let statements = SQLStatements.split(sql)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("DEFAULT 'a;b''c')"))
        #expect(statements[1].contains("$body$ SELECT 1; $body$"))
        #expect(statements[2] == "INSERT INTO t VALUES (E'x\\';y')")
        #expect(statements[3] == "DO $$ BEGIN PERFORM 1; END $$")
    }

    @Test("comment-only tails make no statement; parameters are not dollar quotes")
    func edges() {
        #expect(SQLStatements.split("SELECT 1;\n-- done\n").count == 1)
        #expect(SQLStatements.split("SELECT $1; SELECT 2").count == 2)
        #expect(SQLStatements.split("").isEmpty)
    }
}
