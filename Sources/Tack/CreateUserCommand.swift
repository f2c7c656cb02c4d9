import ArgumentParser
import Foundation
import Logging
import TackCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `create_user`: makes an account from the command line, typically the first administrator.
struct CreateUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create_user",
        abstract: "Create an account (--admin for an administrator, e.g. the first account).",
        discussion: """
            The password is read from standard input with --password-stdin (first line), or asked for \
            twice with echo off when run in a terminal. It must be 10 to 200 characters and not easy to guess.
            """
    )

    @Option(help: "The account's email (its login).")
    var email: String

    @Option(help: "The name shown to other people.")
    var name: String

    @Flag(help: "Make the account an administrator.")
    var admin = false

    @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            let (config, logger, migrations) = try options.command("create_user").parts
            let password = try readPassword()
            try CreateUser.validate(email: email, name: name, password: password)
            let (email, name, admin) = (self.email, self.name, self.admin)
            let user = try await Clients.withClients(config, logger: logger) { postgres, _ in
                _ = try await Clients.checkPostgres(postgres, config: config, logger: logger)
                try await Migrator(client: postgres, migrations: migrations, logger: logger).requireCurrent()
                return try await CreateUser.run(
                    email: email,
                    name: name,
                    password: password,
                    admin: admin,
                    postgres: postgres,
                    hasher: PasswordHasher(),
                    logger: logger
                )
            }
            say("created \(user.isAdmin ? "administrator" : "user") \(user.name) <\(user.email)> (id \(user.id))")
        }
    }

    /// The password from standard input, or from the terminal with echo off (asked twice).
    private func readPassword() throws -> String {
        if passwordStdin {
            guard let line = Swift.readLine(strippingNewline: true) else {
                throw TackError(
                    .usage,
                    subject: "--password-stdin",
                    "standard input is empty; pipe the password in, e.g. `printf '%s\\n' \"$PASSWORD\" | ./platform create_user …`"
                )
            }
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw TackError(.usage, subject: "password", "standard input is not a terminal; pass --password-stdin and pipe the password in")
        }
        let first = try prompt("Password for \(email): ")
        let second = try prompt("Same password again: ")
        guard first == second else { throw TackError(.usage, subject: "password", "the two passwords differ; nothing was created") }
        return first
    }

    /// Reads one line from the terminal without echoing it.
    private func prompt(_ text: String) throws -> String {
        // Echo goes off before the prompt shows, so nothing typed after the prompt is ever echoed.
        var saved = termios()
        let haveTerminal = tcgetattr(STDIN_FILENO, &saved) == 0
        if haveTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
        defer {
            if haveTerminal { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
            try? FileHandle.standardError.write(contentsOf: Data("\n".utf8))
        }
        guard let line = Swift.readLine(strippingNewline: true) else {
            throw TackError(.usage, subject: "password", "no password entered; nothing was created")
        }
        return line
    }
}
