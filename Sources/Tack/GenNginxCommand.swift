import ArgumentParser
import Foundation
import Logging
import TackCore
import TackRedis

/// `gen_nginx FILE`: `nginx.conf.example` rendered for this site, its upstreams listing the given
/// processes or every live web and push process of the cluster.
struct GenNginxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen_nginx",
        abstract: "Write the nginx site for Tack: nginx.conf.example with the server name, the Tack directory and the upstreams.",
        discussion: """
            The upstreams list the processes given by --web and --push, or with --from-cluster every live web and push \
            process in the cluster registry (a process listening on a wildcard address is listed at its node's address). \
            Run `nginx -t` on the result, then reload nginx.
            """
    )

    @Argument(help: "Where to write the site file, or - for standard output.")
    var file: String

    @Option(help: "The site's server_name, e.g. tack.example.com.")
    var serverName: String

    @Option(help: "nginx's listen parameter.")
    var listen = "80"

    @Option(help: "The Tack directory nginx serves public/ from (default: this installation's).")
    var root: String?

    @Option(help: "A web process, host:port (repeatable).")
    var web: [String] = []

    @Option(help: "A push process, host:port (repeatable).")
    var push: [String] = []

    @Flag(help: "List the live web and push processes of the cluster registry (reads the config for Redis).")
    var fromCluster = false

    @Flag(help: "Overwrite an existing file.")
    var force = false

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            if fromCluster && !(web.isEmpty && push.isEmpty) {
                throw TackError(.usage, subject: "--from-cluster", "list processes either with --web/--push or from the cluster, not both")
            }
            var web = self.web
            var push = self.push
            if fromCluster { (web, push) = try await Self.clusterUpstreams(options) }
            let root = ConfigOptions.absolute(self.root ?? ConfigOptions.rootDirectory)
            let templatePath = (ConfigOptions.rootDirectory as NSString).appendingPathComponent("nginx.conf.example")
            guard let template = try? String(contentsOfFile: templatePath, encoding: .utf8) else {
                throw TackError(.fileError, subject: templatePath, "cannot be read; gen_nginx renders it")
            }
            let site = try NginxSite.render(
                template: template,
                settings: .init(serverName: serverName, root: root, listen: listen, web: web, push: push)
            )
            if file == "-" {
                try FileHandle.standardOutput.write(contentsOf: Data(site.utf8))
                return
            }
            let path = ConfigOptions.absolute(file)
            if FileManager.default.fileExists(atPath: path) && !force {
                throw TackError(.fileError, subject: file, "already exists; pass --force to replace it")
            }
            do {
                try site.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw TackError(.fileError, subject: file, "cannot be written: \(error.localizedDescription)")
            }
            say("wrote \(file): \(web.count) web and \(push.count) push upstream server(s); check it with `nginx -t`")
        }
    }

    /// Every live web and push process's address, from the registry.
    static func clusterUpstreams(_ options: ConfigOptions) async throws -> (web: [String], push: [String]) {
        let (config, logger, _) = try options.command("gen_nginx").parts
        let redis = try Clients.makeRedis(config, logger: logger)
        let view = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await redis.run() }
            defer { group.cancelAll() }
            return try await ClusterView.read(redis: redis, heartbeatTTL: config.cluster.heartbeatTTL)
        }
        func addresses(_ role: String) throws -> [String] {
            let found = Set(view.processes.filter { $0.role == role && !$0.listen.isEmpty }.map(\.listen)).sorted()
            guard !found.isEmpty else {
                throw TackError(
                    .usage,
                    subject: "--from-cluster",
                    "no live \(role) process in the cluster registry; start one, or list them with --\(role)"
                )
            }
            return found
        }
        return (try addresses("web"), try addresses("push"))
    }
}
