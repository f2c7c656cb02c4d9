import ArgumentParser
import Foundation
import Logging
import TackCore
import TackRedis

/// `status`: the cluster as Redis sees it, and what needs attention.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Nodes, processes per role, scheduler leader, queue depths, schema version.",
        discussion: "Exits 1 when something needs attention (pending migrations, no scheduler leader, a role with no live process), 2 when a server is unreachable.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var options: ConfigOptions

    /// The JSON document (`--json`).
    struct Report: Codable, Sendable {
        struct Queue: Codable, Sendable {
            var name: String
            var length: Int
        }
        var processes: [ClusterView.ProcessEntry]
        var schedulerLeader: String?
        var schedulerStandbys: [String]
        var queues: [Queue]
        var schemaVersion: Int
        var pendingMigrations: [String]
        var problems: [String]
        var generatedAt: Int
    }

    func run() async throws {
        try await reportingErrors {
            let config = try options.load()
            TackLogHandler.bootstrap(level: "critical", format: config.log.format)
            let logger = Logger(label: "tack.status")
            let migrations = try Clients.migrations(config)
            let report = try await Clients.withClients(config, logger: logger) { postgres, redis in
                _ = try await Clients.checkRedis(redis, config: config)
                let view = try await ClusterView.read(redis: redis, heartbeatTTL: config.cluster.heartbeatTTL)
                let queueNames = config.queueNames
                let lengths = try await redis.pipeline(queueNames.map { ["XLEN", RedisKeys.queue($0)] })
                _ = try await Clients.checkPostgres(postgres, config: config, logger: logger)
                let schema = try await Migrator(client: postgres, migrations: migrations, logger: logger).status()
                return Self.report(view: view, queues: zip(queueNames, lengths).map { .init(name: $0, length: $1.int ?? 0) }, schema: schema)
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

    static func report(view: ClusterView, queues: [Report.Queue], schema: Migrator.Status) -> Report {
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
        let standbys = view.processes.filter { $0.role == ProcessRole.scheduler.rawValue && $0.id != leaderProcess }.map(\.id)
        return Report(processes: view.processes, schedulerLeader: leaderProcess, schedulerStandbys: standbys, queues: queues,
                      schemaVersion: schema.schemaVersion, pendingMigrations: schema.pending.map(\.fileName), problems: problems,
                      generatedAt: Int(Date().timeIntervalSince1970 * 1000))
    }

    func print(report: Report) {
        let now = report.generatedAt
        let nodes = Dictionary(grouping: report.processes, by: \.node)
        say("Tack cluster: \(nodes.count) node(s), \(report.processes.count) process(es), schema version \(report.schemaVersion)")
        say("")
        let header = ["NODE", "ZONE", "ROLE", "PID", "LISTEN", "VERSION", "UP", "HEARTBEAT"]
        var rows: [[String]] = [header]
        for p in report.processes {
            rows.append([p.node, p.zone, p.role, String(p.pid), p.listen.isEmpty ? "-" : p.listen, p.version,
                         Self.age(now - p.startedAt), Self.age(now - p.heartbeatAt) + " ago"])
        }
        sayTable(rows)
        say("")
        say("roles:     " + ProcessRole.allCases.map { role in "\(role) \(report.processes.filter { $0.role == role.rawValue }.count)" }.joined(separator: ", "))
        say("scheduler: leader \(report.schedulerLeader ?? "none")" + (report.schedulerStandbys.isEmpty ? "" : ", standbys " + report.schedulerStandbys.joined(separator: ", ")))
        say("queues:    " + report.queues.map { "\($0.name) \($0.length)" }.joined(separator: ", "))
        say("schema:    version \(report.schemaVersion)" + (report.pendingMigrations.isEmpty ? ", up to date" : ", pending " + report.pendingMigrations.joined(separator: ", ")))
        if report.problems.isEmpty {
            say("problems:  none")
        } else {
            for problem in report.problems { say("attention: \(problem)") }
        }
    }

    static func age(_ milliseconds: Int) -> String {
        let s = max(0, milliseconds / 1000)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h\((s % 3600) / 60)m" }
        return "\(s / 86400)d\((s % 86400) / 3600)h"
    }
}
