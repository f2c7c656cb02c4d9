import ArgumentParser
import Foundation
import Logging
import TackCore

/// `seed_demo`: the demo account and board that `./platform up` leaves to look at.
struct SeedDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed_demo",
        abstract: "Create the demo account (\(DemoSeed.email)) and a demo board; safe to run again.",
        discussion: """
            The password is read from --password-file when that file exists; otherwise a new one is \
            generated (and written to --password-file, mode 0600, when given). An existing demo account \
            gets that password; an existing demo board is left as it is. For development and demos: \
            do not run it on an installation real people use.
            """
    )

    @Option(name: .customLong("password-file"), help: "Where the demo password is kept between runs (read if it exists, else written).")
    var passwordFile: String?

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await reportingErrors {
            let (config, logger, migrations) = try options.command("seed_demo").parts
            let password = try readOrCreatePassword()
            let outcome = try await Clients.withClients(config, logger: logger) { postgres, redis in
                _ = try await Clients.checkPostgres(postgres, config: config, logger: logger)
                try await Migrator(client: postgres, migrations: migrations, logger: logger).requireCurrent()
                return try await DemoSeed.run(
                    password: password,
                    postgres: postgres,
                    redis: redis,
                    historySize: config.events.historySize,
                    hasher: PasswordHasher(),
                    logger: logger
                )
            }
            say("demo account: \(outcome.user.email) (\(outcome.createdAccount ? "created" : "exists"))")
            say("password:     \(password)\(outcome.setPassword && !outcome.createdAccount ? " (set now)" : "")")
            say(
                "demo board:   \(outcome.board.name), \(config.web.baseURL.trimmingSuffix("/"))/boards/\(outcome.board.id) (\(outcome.createdBoard ? "created" : "exists, left as it is"))"
            )
        }
    }

    private func readOrCreatePassword() throws -> String {
        guard let passwordFile else { return DemoSeed.generatePassword() }
        let path = ConfigOptions.absolute(passwordFile)
        if let data = FileManager.default.contents(atPath: path) {
            let stored = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !stored.isEmpty else {
                throw TackError(.fileError, subject: path, "is empty; delete it and run seed_demo again for a new password")
            }
            return stored
        }
        let password = DemoSeed.generatePassword()
        guard FileManager.default.createFile(atPath: path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TackError(.fileError, subject: path, "cannot be written")
        }
        return password
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
