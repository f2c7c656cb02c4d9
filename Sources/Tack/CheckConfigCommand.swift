import ArgumentParser
import Foundation
import TackCore

/// `check_config [FILE]`: validates without touching any server.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check_config",
        abstract: "Validate the config file; every error names the key and what is wrong."
    )

    @Argument(help: "The file to check (default: the config `run` would use).")
    var file: String?

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            let path = options.resolvedConfigPath(explicit: file)
            let config = try options.load(explicit: file)
            say("\(path): OK")
            say("  node        \(config.nodeName) (zone \(config.node.zone))")
            say("  postgresql  \(config.database.displayTarget)")
            say("  redis       \(config.redis.displayTarget)")
            say("  web         \(config.web.host):\(config.web.port)  \(config.web.baseURL)")
            say("  push        \(config.push.host):\(config.push.port)")
            say("  queues      " + config.queues.sorted { $0.key < $1.key }.map { "\($0.key)->\($0.value)" }.joined(separator: " "))
        }
    }
}
