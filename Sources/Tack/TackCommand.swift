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
            GenConfigCommand.self, GenNginxCommand.self, CheckConfigCommand.self, InitNodeCommand.self, UpgradeDBCommand.self,
            RunCommand.self, StatusCommand.self, JobsCommand.self, CreateUserCommand.self, SeedDemoCommand.self,
        ]
    )
}

/// Runs a command body, turning a `TackError` into one line on standard error and its exit code.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TackError {
        try? FileHandle.standardError.write(contentsOf: Data("error: \(error.description)\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

/// Writes a line to standard output.
func say(_ line: String = "") {
    try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
}

/// Prints rows as left-aligned columns two spaces apart; the first row is the header.
func sayTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    let widths = first.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
    for row in rows {
        say(
            row.enumerated().map {
                $0.offset == row.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
        )
    }
}
