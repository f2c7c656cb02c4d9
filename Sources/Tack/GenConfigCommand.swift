import ArgumentParser
import Foundation
import TackCore

/// `gen_config FILE`: a commented config with fresh secrets, mode 0600.
struct GenConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen_config",
        abstract: "Write a commented config file with fresh secrets (mode 0600)."
    )

    @Argument(help: "Where to write it, e.g. config.yml.")
    var file: String

    @Flag(help: "Overwrite an existing file.")
    var force = false

    @Flag(help: "Write the documented example (no secrets, mode 0644): how config-prod.yml.example is made.")
    var example = false

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Write this value instead of the default, e.g. --set database.url=postgres://… (repeatable).", valueName: "key=value")
    )
    var overrides: [String] = []

    func run() async throws {
        try await reportingErrors {
            let path = ConfigOptions.absolute(file)
            let fm = FileManager.default
            if fm.fileExists(atPath: path) && !force {
                throw TackError(
                    .fileError,
                    subject: file,
                    "already exists; keep it, or pass --force to replace it (its secret_key will change: pages open in browsers must be reloaded before their next change)"
                )
            }
            if example && !overrides.isEmpty {
                throw TackError(.usage, subject: "--set", "the example shows the defaults; --set is for a real config")
            }
            let values = Dictionary(try ConfigLoader.parse(overrides: overrides), uniquingKeysWith: { $1 })
            let text =
                example ? ConfigRenderer.render() : ConfigRenderer.render(secrets: ["secret_key": ConfigRenderer.freshSecret()], values: values)
            // Write a private temporary file beside the target, then rename: the secret is never
            // readable by others, and a crash leaves the old file intact.
            let temporary = path + ".tmp-\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, example ? 0o644 : 0o600)
            guard fd >= 0 else {
                throw TackError(.fileError, subject: file, "cannot be written: \(String(cString: strerror(errno)))")
            }
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fsync(fd)
            close(fd)
            guard written == bytes.count, rename(temporary, path) == 0 else {
                unlink(temporary)
                throw TackError(.fileError, subject: file, "cannot be written: \(String(cString: strerror(errno)))")
            }
            if example {
                say("wrote \(file): the documented example, without secrets")
                return
            }
            say("wrote \(file) (mode 0600) with a fresh secret_key")
            say("next: edit database.url and redis.url, then `./platform check_config \(file)` and copy it to every node")
        }
    }
}
