import Foundation
import TackTestSupport
import Testing

@testable import TackCore

@Suite("Configuration")
struct ConfigLoaderTests {
    let secret = String(repeating: "s", count: 64)

    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "tack-config-\(UUID().uuidString).yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func load(_ text: String, environment: [String: String] = [:], overrides: [String] = []) throws -> TackConfiguration {
        let path = try write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ConfigLoader(filePath: path, environment: environment, overrides: overrides, rootDirectory: "/opt/tack").load()
    }

    func expectError(_ text: String, environment: [String: String] = [:], naming subject: String, saying words: String) {
        do {
            _ = try load(text, environment: environment)
            Issue.record("expected an error naming \(subject)")
        } catch let error as TackError {
            #expect(error.code == .invalidConfig)
            #expect(error.exitCode == 2)
            #expect(error.description.contains(subject), "\(error.description)")
            #expect(error.description.contains(words), "\(error.description)")
            #expect(!error.description.contains("\n"), "one line: \(error.description)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("the committed example is exactly what the schema renders")
    func exampleMatchesSchema() throws {
        let example = try String(contentsOfFile: TestServers.root + "/config-prod.yml.example", encoding: .utf8)
        #expect(example == ConfigRenderer.render(), "regenerate config-prod.yml.example: ./platform gen_config --example")
    }

    @Test("the example loads, documents every key the loader knows, and sets each to its default")
    func exampleLoadsWithDefaults() throws {
        let example = ConfigRenderer.render()
        let config = try load(example, environment: ["TACK_SECRET_KEY": secret])
        #expect(config.web.port == 5000)
        #expect(config.push.port == 4000)
        #expect(config.scheduler.leaseTTL == .seconds(15))
        #expect(config.queues["webhooks"] == "hooks")
        for key in ConfigSchema.keys {
            let name = key.path.split(separator: ".").last!
            #expect(example.contains("\n  \(name):") || example.contains("\n\(name):"), "example does not document \(key.path)")
        }
    }

    @Test("gen_config output has a fresh secret and loads as it is")
    func generatedConfigLoads() throws {
        let a = ConfigRenderer.render(secrets: ["secret_key": ConfigRenderer.freshSecret()])
        let b = ConfigRenderer.render(secrets: ["secret_key": ConfigRenderer.freshSecret()])
        #expect(a != b)
        let config = try load(a)
        #expect(config.secretKey.count == 64)
    }

    @Test("file values, then environment, then --set override the defaults")
    func precedence() throws {
        let text = "secret_key: \(secret)\nweb:\n  port: 6000\n  host: 127.0.0.1\n"
        #expect(try load(text).web.port == 6000)
        #expect(try load(text, environment: ["TACK_WEB_PORT": "7000"]).web.port == 7000)
        #expect(try load(text, environment: ["TACK_WEB_PORT": "7000"], overrides: ["web.port=8000"]).web.port == 8000)
        #expect(try load(text).web.host == "127.0.0.1")
        #expect(try load(text, environment: ["TACK_QUEUES": "webhooks:fast"]).queues["webhooks"] == "fast")
    }

    @Test("malformed YAML names the file and the line")
    func malformedYAML() {
        expectError("web:\n  port: [5000\n", naming: ".yml", saying: "not valid YAML")
    }

    @Test("an unknown key is named, with a suggestion")
    func unknownKey() {
        expectError("secret_key: \(secret)\nweb:\n  prot: 5000\n", naming: "web.prot", saying: "did you mean `web.port`")
        expectError("secret_key: \(secret)\nwebb:\n  port: 5000\n", naming: "webb", saying: "unknown key")
    }

    @Test("a wrong type or range is named with what is expected")
    func wrongType() {
        expectError("secret_key: \(secret)\nweb:\n  port: abc\n", naming: "web.port", saying: "whole number from 1 to 65535")
        expectError("secret_key: \(secret)\nweb:\n  port: \"5000\"\n", naming: "web.port", saying: "quoted string")
        expectError("secret_key: \(secret)\nweb:\n  port: 70000\n", naming: "web.port", saying: "65535")
        expectError("secret_key: \(secret)\nlog:\n  level: loud\n", naming: "log.level", saying: "one of trace")
        expectError("secret_key: \(secret)\ndatabase:\n  url: mysql://x/y\n", naming: "database.url", saying: "postgres://")
        expectError("secret_key: \(secret)\nweb: 5\n", naming: "web", saying: "section")
        expectError("secret_key: \(secret)\nqueues:\n  nonsense: x\n", naming: "queues.nonsense", saying: "unknown job kind")
    }

    @Test("the line number of a bad value is given")
    func lineNumbers() {
        expectError("secret_key: \(secret)\n\nweb:\n  port: abc\n", naming: ":4: web.port", saying: "whole number")
    }

    @Test("a missing or short secret is refused without echoing it")
    func missingSecret() {
        expectError("web:\n  port: 5000\n", naming: "secret_key", saying: "secret missing")
        expectError("secret_key: short-secret-value\n", naming: "secret_key", saying: "too short")
        do {
            _ = try load("secret_key: short-secret-value\n")
        } catch {
            #expect(!"\(error)".contains("short-secret-value"))
        }
    }

    @Test("environment overrides are validated and named")
    func environmentErrors() {
        expectError("secret_key: \(secret)\n", environment: ["TACK_WEB_PORT": "x"], naming: "TACK_WEB_PORT (web.port)", saying: "whole number")
        expectError("secret_key: \(secret)\n", environment: ["TACK_WEB_PROT": "1"], naming: "TACK_WEB_PROT", saying: "did you mean `TACK_WEB_PORT`")
    }

    @Test("rules between keys: the leader stands down before its lease can expire")
    func crossKeyRules() {
        expectError(
            "secret_key: \(secret)\nscheduler:\n  lease_ttl: 10\n  renew_deadline: 12\n",
            naming: "scheduler.renew_deadline",
            saying: "below scheduler.lease_ttl"
        )
    }

    @Test("PostgreSQL failover keys: bounds, an optional migrate URL used by upgrade_db, errors naming the key")
    func postgresFailoverKeys() throws {
        let defaults = try load("secret_key: \(secret)\n")
        #expect(defaults.database.acquireTimeout == .seconds(5))
        #expect(defaults.database.statementTimeout == .seconds(30))
        #expect(defaults.database.migrateURL.isEmpty)
        #expect(try defaults.database.forMigrations().displayTarget == defaults.database.displayTarget)
        #expect(Database.startupParameters(defaults.database).map { "\($0.0)=\($0.1)" } == ["statement_timeout=30000"])

        let config = try load(
            "secret_key: \(secret)\ndatabase:\n  url: postgres://tack@pgbouncer:6432/tack\n  acquire_timeout: 1.5\n  statement_timeout: 0\n",
            environment: ["TACK_DATABASE_MIGRATE_URL": "postgres://owner:pw@db1.example:5433/tackdb"]
        )
        #expect(config.database.acquireTimeout == .milliseconds(1500))
        #expect(Database.startupParameters(config.database).isEmpty)
        let direct = try config.database.forMigrations()
        #expect(direct.host == "db1.example" && direct.port == 5433 && direct.username == "owner" && direct.database == "tackdb")
        #expect(direct.password == "pw")
        #expect(config.database.host == "pgbouncer")

        expectError(
            "secret_key: \(secret)\ndatabase:\n  acquire_timeout: 0\n",
            naming: "database.acquire_timeout",
            saying: "seconds"
        )
        expectError(
            "secret_key: \(secret)\n",
            environment: ["TACK_DATABASE_MIGRATE_URL": "mysql://x@y/z"],
            naming: "TACK_DATABASE_MIGRATE_URL (database.migrate_url)",
            saying: "postgres"
        )
    }

    @Test("passwords in URLs never appear in errors or display targets")
    func passwordsHidden() throws {
        let config = try load("secret_key: \(secret)\ndatabase:\n  url: postgres://tack:hunter2secret@db.example:5433/tack\n")
        #expect(config.database.password == "hunter2secret")
        #expect(!config.database.displayTarget.contains("hunter2"))
        #expect(ConfigLoader.redactURL("redis://:hunter2@h:1/0").contains("***"))
    }
}
