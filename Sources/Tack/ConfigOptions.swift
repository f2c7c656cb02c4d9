import ArgumentParser
import Foundation
import Logging
import TackCore

/// Options every command that reads the configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The config file (default: $TACK_CONFIG, else config.yml, else var/config-dev.yml in the Tack directory).")
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a key for this run, e.g. --set web.port=5001 (repeatable).", valueName: "key=value")
    )
    var overrides: [String] = []

    /// The Tack installation directory: the nearest parent of the executable holding `migrations/`
    /// and `platform`, else `$TACK_ROOT`, else the working directory.
    static var rootDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let root = environment["TACK_ROOT"], !root.isEmpty { return root }
        var url = URL(fileURLWithPath: executablePath).deletingLastPathComponent()
        while url.path != "/" {
            let fm = FileManager.default
            if fm.fileExists(atPath: url.appendingPathComponent("migrations").path),
                fm.fileExists(atPath: url.appendingPathComponent("platform").path)
            {
                return url.path
            }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }

    /// This binary's absolute path (for the process manager's children).
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The config file this run reads.
    func resolvedConfigPath(explicit: String? = nil) -> String {
        let root = Self.rootDirectory
        if let path = explicit ?? config { return Self.absolute(path) }
        if let path = ProcessInfo.processInfo.environment["TACK_CONFIG"], !path.isEmpty { return Self.absolute(path) }
        let production = (root as NSString).appendingPathComponent("config.yml")
        let development = (root as NSString).appendingPathComponent("var/config-dev.yml")
        if !FileManager.default.fileExists(atPath: production), FileManager.default.fileExists(atPath: development) {
            return development
        }
        return production
    }

    /// Loads and validates the configuration.
    func load(explicit: String? = nil) throws -> TackConfiguration {
        try ConfigLoader(
            filePath: resolvedConfigPath(explicit: explicit),
            environment: ProcessInfo.processInfo.environment,
            overrides: overrides,
            rootDirectory: Self.rootDirectory
        ).load()
    }

    /// What an operator command starts from: the loaded configuration, logging set up for a
    /// command's terminal (only critical lines; the command says what happened itself), its logger
    /// and the migrations this release ships.
    struct Command {
        let config: TackConfiguration
        let logger: Logger
        let migrations: [Migration]

        /// The three, to destructure.
        var parts: (TackConfiguration, Logger, [Migration]) { (config, logger, migrations) }
    }

    /// The shared preamble of the commands that talk to PostgreSQL or Redis.
    func command(_ name: String) throws -> Command {
        let config = try load()
        TackLogHandler.bootstrap(level: "critical", format: config.log.format)
        return Command(config: config, logger: Logger(label: "tack.\(name)"), migrations: try Clients.migrations(config))
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}
