import ArgumentParser
import Foundation
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import TackCore
import TackPush
import TackRedis
import TackScheduler
import TackWeb
import TackWorker
import UnixSignals

/// `run [ROLE]`: one role in the foreground (supervisord's way), or a whole node under the built-in manager.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one role (web, worker, scheduler, push) in the foreground, or, with no role, a whole node."
    )

    @Argument(help: "web, worker, scheduler or push; omit to run every role under the built-in process manager.")
    var role: String?

    @Option(help: "Web processes on this node (no role only); ports from web.port upwards.")
    var webScale = 1

    @Option(help: "Worker processes on this node (no role only).")
    var workerScale = 1

    @Option(help: "Queues this worker consumes, comma-separated (default: every configured queue).")
    var queues: String?

    @Flag(help: "With `run scheduler`: if another scheduler holds the lease, print its name and exit 2 instead of waiting as a standby.")
    var exitIfActive = false

    @Option(help: .hidden) var parentPid: Int32?

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            let role = try role.map(ProcessRole.parse)
            guard (1...64).contains(webScale), (0...256).contains(workerScale) else {
                throw TackError(.usage, subject: "--web-scale/--worker-scale", "expected 1-64 web and 0-256 worker processes")
            }
            let config = try options.load()
            let queueList = try queues.map { try Self.parseQueues($0, config: config) } ?? config.queueNames
            TackLogHandler.bootstrap(level: config.log.level, format: config.log.format)
            if exitIfActive {
                guard role == .scheduler else {
                    throw TackError(.usage, subject: "--exit-if-active", "only applies to `run scheduler`")
                }
                // Advisory: a scheduler starting at the same moment may still win the lease, and this one then stands by.
                if let leader = try await currentSchedulerLeader(config: config, logger: Logger(label: "tack.scheduler")) {
                    let process = leader.split(separator: "#").first.map(String.init) ?? leader
                    throw TackError(
                        Self.schedulerActive,
                        subject: "--exit-if-active",
                        "another scheduler is active: \(process) (lease owner \(leader)); not starting a standby"
                    )
                }
            }
            if let role {
                try await Self.runRole(role, config: config, queues: queueList, parentPID: parentPid)
            } else {
                let manager = ProcessManager(
                    config: config,
                    configPath: options.resolvedConfigPath(),
                    overrides: options.overrides,
                    webScale: webScale,
                    workerScale: workerScale,
                    queues: queues
                )
                try await manager.run()
            }
        }
    }

    /// `run scheduler --exit-if-active` found a leader (exit status 2, like every refusal to start).
    static let schedulerActive = TackError.Code("scheduler_active")

    static func parseQueues(_ text: String, config: TackConfiguration) throws -> [String] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let known = Set(config.queueNames)
        for name in names where !known.contains(name) {
            throw TackError(
                .usage,
                subject: "--queues \(name)",
                "no job kind goes to this queue; configured queues: " + config.queueNames.joined(separator: ", ")
            )
        }
        guard !names.isEmpty else { throw TackError(.usage, subject: "--queues", "name at least one queue") }
        return names
    }

    /// Builds and runs one role's `ServiceGroup`: clients first, the role's services, the registry
    /// membership last, so on shutdown the process leaves the registry first and closes clients last.
    ///
    /// `parentPID` is the process manager's (`run` with no role passes it): the process stops when
    /// that parent dies, so a killed manager leaves no unsupervised role processes behind.
    static func runRole(_ role: ProcessRole, config: TackConfiguration, queues: [String], parentPID: Int32? = nil) async throws {
        let logger = Logger(label: "tack.\(role)")
        try await Clients.preflight(config, logger: Logger(label: "tack.\(role).preflight"))

        // Metrics first (the web role serves them), so the pool's gauges register with Prometheus.
        let registry = PrometheusCollectorRegistry()
        if role == .web || role == .push { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        let postgres = Database.makeClient(config.database, logger: logger)
        let redis = try Clients.makeRedis(config, logger: logger)
        var services: [any Service] = [postgres, redis]
        var listen = ""
        switch role {
        case .web: listen = AdvertisedAddress.of(host: config.web.host, port: config.web.port)
        case .push: listen = AdvertisedAddress.of(host: config.push.host, port: config.push.port)
        case .worker, .scheduler: break
        }
        let identity = ClusterMembership.Identity(node: config.nodeName, zone: config.node.zone, role: role, listen: listen)
        var load: (@Sendable () -> [(String, String)])?
        switch role {
        case .web:
            let deps = WebDependencies(
                config: config,
                postgres: postgres,
                redis: redis,
                migrations: try Clients.migrations(config),
                metrics: registry
            )
            services.append(try buildWebApplication(deps, logger: logger))
        case .push:
            let push = buildPushServices(config: config, postgres: postgres, redis: redis, registry: registry, logger: logger)
            services += push.services
            load = push.load
        case .worker:
            services += try buildWorkerServices(
                config: config,
                queues: queues,
                processID: identity.id,
                postgres: postgres,
                redis: redis,
                logger: logger
            )
        case .scheduler:
            services += buildSchedulerServices(config: config, processID: identity.id, redis: redis, logger: logger).services
        }
        if let parentPID { services.append(ParentWatch(parent: parentPID, logger: logger)) }
        // Every role notices a PostgreSQL failover (a new timeline or system identifier) and logs it.
        services.append(PostgresFailoverWatch(postgres: postgres, interval: config.cluster.heartbeatInterval, logger: logger))
        services.append(
            ClusterMembership(
                identity: identity,
                redis: redis,
                interval: config.cluster.heartbeatInterval,
                ttl: config.cluster.heartbeatTTL,
                logger: logger,
                load: load
            )
        )

        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // Shorter than supervisord's stopwaitsecs (15 s in the example) so we finish before a SIGKILL.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(10)
        groupConfiguration.maximumCancellationDuration = .seconds(2)
        logger.info("starting", metadata: ["tack.role": "\(role)", "tack.node": "\(config.nodeName)", "tack.version": "\(TackVersion.current)"])
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("stopped", metadata: ["tack.role": "\(role)"])
    }
}
