import ArgumentParser
import Foundation
import Logging
import TackCore

/// `init_node`: checks this machine can run Tack and prepares its directories.
struct InitNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init_node",
        abstract: "Check config, PostgreSQL and Redis from this machine; create data and log directories."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            let (config, logger, migrations) = try options.command("init_node").parts

            for directory in [config.node.storageDirectory, config.node.logDirectory] {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } catch {
                    throw TackError(
                        .fileError,
                        subject: directory,
                        "cannot be created (\(error.localizedDescription)); fix node.storage_dir / node.log_dir or the permissions"
                    )
                }
                guard access(directory, W_OK) == 0 else {
                    throw TackError(.fileError, subject: directory, "is not writable by this user; fix its permissions")
                }
            }

            let report = try await Clients.withClients(config, logger: logger) { postgres, redis in
                let info = try await Clients.checkRedis(redis, config: config)
                let pgVersion = try await Clients.checkPostgres(postgres, config: config, logger: logger)
                // PostgreSQL failover: database.url must reach the primary (HAProxy/VIP/PgBouncer that follows it).
                let identity = try await postgres.withBoundedConnection(logger: logger) { try await PostgresIdentity.read(on: $0, logger: logger) }
                if identity.inRecovery {
                    throw TackError(
                        .databaseUnavailable,
                        subject: "PostgreSQL at \(config.database.displayTarget) (database.url)",
                        "is a standby (pg_is_in_recovery() is true); point database.url at the primary, or at an endpoint that follows it (HAProxy on Patroni's /primary, a VIP)"
                    )
                }
                let status = try await Migrator(client: postgres, migrations: migrations, logger: logger).status()
                // Redis Sentinel (issue 14): quorum, replicas, min-replicas-to-write.
                let topology = try await RedisTopology.read(redis: redis, masterName: config.redis.masterName)
                return (info, pgVersion, status, identity, topology)
            }
            let (info, pgVersion, status, identity, topology) = report
            let redisVersion = info["redis_version"] ?? "unknown"
            var warnings: [String] = []
            if let major = Int(pgVersion.split(separator: ".").first ?? ""), major < 15 {
                throw TackError(
                    .databaseUnavailable,
                    subject: "PostgreSQL at \(config.database.displayTarget)",
                    "is version \(pgVersion); Tack needs 15 or newer"
                )
            }
            if let major = Int(redisVersion.split(separator: ".").first ?? ""), major < 7 {
                throw TackError(
                    .redisUnavailable,
                    subject: "Redis at \(config.redis.displayTarget)",
                    "is version \(redisVersion); Tack needs 7 or newer"
                )
            }
            if info["aof_enabled"] != "1" {
                warnings.append(
                    "Redis persistence: AOF is off, so a Redis crash loses queued jobs and the scheduler's claimed ticks; set `appendonly yes` in redis.conf"
                )
            }
            if let problem = status.problems.first { warnings.append(problem.description) }
            if let problem = topology.errors.first {
                throw TackError(.redisUnavailable, subject: "Redis at \(config.redis.displayTarget)", problem)
            }
            warnings += topology.warnings

            say("Tack node \(config.nodeName) (zone \(config.node.zone)), release \(TackVersion.current)")
            say("  config      \(config.sourceFile ?? "(defaults)")")
            say(
                "  postgresql  \(config.database.displayTarget), version \(pgVersion), primary, timeline \(identity.timeline), system id \(identity.systemIdentifier)"
            )
            say("  redis       \(config.redis.displayTarget), version \(redisVersion), AOF \(info["aof_enabled"] == "1" ? "on" : "off")")
            if topology.sentinel {
                for line in topology.lines { say("              \(line)") }
            }
            say("  schema      version \(status.schemaVersion), \(status.pending.count) migration(s) pending")
            say("  storage     \(config.node.storageDirectory)")
            say("  logs        \(config.node.logDirectory)")
            for warning in warnings { say("warning: \(warning)") }
            say("")
            say("Next steps:")
            if !status.pending.isEmpty { say("  ./platform upgrade_db          (once, from any node)") }
            say("  ./platform run web|worker|scheduler|push   (under supervisord: see supervisord.conf.example)")
            say("  ./platform status")
        }
    }
}
