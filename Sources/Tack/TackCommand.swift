import ArgumentParser
import Foundation
import TackCore

/// The `tack` executable: the operator's commands. `./platform` execs it.
@main
struct TackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tack",
        abstract: "Tack: self-hosted boards, cards and live collaboration.",
        discussion: """
            Operator path: gen_config FILE -> (copy it to every node) -> init_node -> upgrade_db (once) -> run ROLE.
            Development: ./platform up. Tests: ./platform test.
            """,
        version: TackVersion.current,
        subcommands: [
            GenConfigCommand.self, CheckConfigCommand.self, InitNodeCommand.self, UpgradeDBCommand.self,
            RunCommand.self, StatusCommand.self, CreateUserCommand.self, SeedDemoCommand.self,
        ]
    )
}

/// Runs a command body, turning a `TackError` into one line on standard error and its exit code.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TackError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

/// Writes a line to standard output.
func say(_ line: String = "") {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
