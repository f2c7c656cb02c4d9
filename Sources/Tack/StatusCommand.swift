import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import TackCore
import TackRedis
import TackScheduler

/// `status`: the cluster as Redis sees it, and what needs attention.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Nodes, processes per role, scheduler leader, queue depths, schema version.",
        discussion:
            "Exits 1 when something needs attention (pending migrations, no scheduler leader, a role with no live process), 2 when a server is unreachable."
    )

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var options: ConfigOptions

    /// The JSON document (`--json`).
    struct Report: Codable, Sendable {
        /// One periodic job: times in milliseconds since 1970.
        struct CronJob: Codable, Sendable {
            var name: String
            var schedule: String
            var enabled: Bool
            /// The newest tick that ran (cron_runs), when it started and finished.
            var lastRun: Int?
            var lastRunStartedAt: Int?
            var lastRunFinishedAt: Int?
            /// The newest tick enqueued (Redis) and the scheduler that enqueued it.
            var lastEnqueued: Int?
            var lastEnqueuedBy: String?
            var nextRun: Int?
        }
        var processes: [ClusterView.ProcessEntry]
        var schedulerLeader: String?
        var schedulerStandbys: [String]
        /// The cron table as this node's config defines it, with each job's last and next run.
        var cronJobs: [CronJob] = []
        var queues: [QueueStats]
        /// The PostgreSQL server behind database.url: its timeline and system identifier (a change of
        /// either is a failover), and whether it is in recovery (a standby: writes fail).
        var postgresTimeline: String?
        var postgresSystemIdentifier: String?
        var postgresInRecovery: Bool?
        var schemaVersion: Int
        var pendingMigrations: [String]
        var problems: [String]
        var generatedAt: Int
        /// The Redis master, and with Sentinel its quorum and replicas with their lag.
        var redis: RedisTopology?
    }

    func run() async throws {
        try await reportingErrors {
            let (config, logger, migrations) = try options.command("status").parts
            let report = try await Clients.withClients(config, logger: logger) { postgres, redis in
                _ = try await Clients.checkRedis(redis, config: config)
                let view = try await ClusterView.read(redis: redis, heartbeatTTL: config.cluster.heartbeatTTL)
                let queues = try await JobQueue(redis: redis, routes: config.queues, logger: logger).stats()
                _ = try await Clients.checkPostgres(postgres, config: config, logger: logger)
                let schema = try await Migrator(client: postgres, migrations: migrations, logger: logger).status()
                var report = Self.report(view: view, queues: queues, schema: schema)
                report.cronJobs = try await Self.cronJobs(config: config, postgres: postgres, redis: redis, logger: logger)
                if let identity = try? await postgres.withBoundedConnection(
                    logger: logger,
                    { try await PostgresIdentity.read(on: $0, logger: logger) }
                ) {
                    report.postgresTimeline = identity.timeline
                    report.postgresSystemIdentifier = identity.systemIdentifier
                    report.postgresInRecovery = identity.inRecovery
                    if identity.inRecovery {
                        report.problems.append("PostgreSQL behind database.url is in recovery (a standby): writes fail until it follows the primary")
                    }
                }
                let topology = try await RedisTopology.read(redis: redis, masterName: config.redis.masterName)
                report.redis = topology
                report.problems += topology.errors
                return report
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                say(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report: report)
            }
            if !report.problems.isEmpty {
                throw ExitCode(TackError(.needsAttention, "").exitCode)
            }
        }
    }

    static func report(view: ClusterView, queues: [QueueStats], schema: Migrator.Status) -> Report {
        var problems: [String] = []
        for role in ProcessRole.allCases where !view.processes.contains(where: { $0.role == role.rawValue }) {
            problems.append("no live \(role) process")
        }
        let leaderProcess = view.schedulerLeader.map { String($0.split(separator: "#").first ?? "") }
        if view.schedulerLeader == nil { problems.append("no scheduler holds the lease") }
        if !schema.pending.isEmpty {
            problems.append("\(schema.pending.count) migration(s) pending: run ./platform upgrade_db")
        }
        problems += schema.problems.map(\.description)
        for queue in queues {
            if queue.dead > 0 { problems.append("\(queue.dead) dead job(s) in queue \(queue.queue): see ./platform jobs dead") }
            if queue.waiting > 0 && queue.consumers == 0 {
                problems.append("queue \(queue.queue) has \(queue.waiting) job(s) waiting and no worker reading it")
            }
        }
        let standbys = view.processes.filter { $0.role == ProcessRole.scheduler.rawValue && $0.id != leaderProcess }.map(\.id)
        return Report(
            processes: view.processes,
            schedulerLeader: leaderProcess,
            schedulerStandbys: standbys,
            queues: queues,
            schemaVersion: schema.schemaVersion,
            pendingMigrations: schema.pending.map(\.fileName),
            problems: problems,
            generatedAt: Int(Date().timeIntervalSince1970 * 1000)
        )
    }

    /// The cron table's state: schedules from the config, enqueues from Redis, runs from cron_runs
    /// (absent while the database is not migrated).
    static func cronJobs(config: TackConfiguration, postgres: PostgresClient, redis: RedisClient, logger: Logger) async throws -> [Report.CronJob] {
        let states = try await CronJobState.read(config: config, redis: redis)
        let runs = await CronRun.latest(postgres: postgres, logger: logger)
        func ms(_ d: Date?) -> Int? { d.map { Int(($0.timeIntervalSince1970 * 1000).rounded()) } }
        return states.map { s in
            let run = runs[s.name]
            return Report.CronJob(
                name: s.name,
                schedule: s.schedule,
                enabled: s.enabled,
                lastRun: ms(run?.scheduledFor),
                lastRunStartedAt: ms(run?.startedAt),
                lastRunFinishedAt: ms(run?.finishedAt),
                lastEnqueued: s.lastEnqueuedTick,
                lastEnqueuedBy: s.lastEnqueuedBy,
                nextRun: s.nextTick
            )
        }
    }

    func print(report: Report) {
        let now = report.generatedAt
        let nodes = Dictionary(grouping: report.processes, by: \.node)
        say("Tack cluster: \(nodes.count) node(s), \(report.processes.count) process(es), schema version \(report.schemaVersion)")
        say("")
        let header = ["NODE", "ZONE", "ROLE", "PID", "LISTEN", "VERSION", "UP", "HEARTBEAT", "CONNECTIONS"]
        var rows: [[String]] = [header]
        for p in report.processes {
            rows.append([
                p.node, p.zone, p.role, String(p.pid), p.listen.isEmpty ? "-" : p.listen, p.version,
                Self.age(now - p.startedAt), Self.age(now - p.heartbeatAt) + " ago", p.connections.map(String.init) ?? "-",
            ])
        }
        sayTable(rows)
        say("")
        say(
            "roles:     "
                + ProcessRole.allCases.map { role in "\(role) \(report.processes.filter { $0.role == role.rawValue }.count)" }.joined(separator: ", ")
        )
        if let timeline = report.postgresTimeline {
            say(
                "postgres:  timeline \(timeline), system id \(report.postgresSystemIdentifier ?? "?")"
                    + ((report.postgresInRecovery ?? false) ? ", IN RECOVERY (standby)" : ", primary")
            )
        }
        say(
            "scheduler: leader \(report.schedulerLeader ?? "none")"
                + (report.schedulerStandbys.isEmpty ? "" : ", standbys " + report.schedulerStandbys.joined(separator: ", "))
        )
        if let topology = report.redis {
            say("redis:     " + topology.lines.joined(separator: "\n           "))
        }
        if !report.cronJobs.isEmpty {
            say("")
            var cron: [[String]] = [["JOB", "SCHEDULE", "LAST RUN", "FINISHED", "NEXT RUN"]]
            for job in report.cronJobs {
                cron.append([
                    job.name, job.schedule,
                    job.lastRun.map { Self.clock($0) + " (" + Self.age(now - $0) + " ago)" } ?? "never",
                    job.lastRun == nil ? "-" : (job.lastRunFinishedAt.map { Self.clock($0) } ?? "running"),
                    job.nextRun.map { Self.clock($0) + " (in " + Self.age($0 - now) + ")" } ?? "-",
                ])
            }
            sayTable(cron)
            say("")
        }
        say(
            "queues:    "
                + report.queues.map { "\($0.queue) \($0.waiting) waiting, \($0.inFlight) in flight, \($0.dead) dead" }.joined(separator: "; ")
        )
        say(
            "schema:    version \(report.schemaVersion)"
                + (report.pendingMigrations.isEmpty ? ", up to date" : ", pending " + report.pendingMigrations.joined(separator: ", "))
        )
        if report.problems.isEmpty {
            say("problems:  none")
        } else {
            for problem in report.problems { say("attention: \(problem)") }
        }
    }

    /// A UTC time of day, with the date when not today.
    static func clock(_ milliseconds: Int) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let text = Timestamp.string(from: date)
        let today = Timestamp.string(from: Date()).prefix(10)
        return text.hasPrefix(today) ? String(text.dropFirst(11)) : text
    }

    static func age(_ milliseconds: Int) -> String {
        let s = max(0, milliseconds / 1000)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h\((s % 3600) / 60)m" }
        return "\(s / 86400)d\((s % 86400) / 3600)h"
    }
}
