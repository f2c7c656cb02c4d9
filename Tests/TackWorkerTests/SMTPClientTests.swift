import Foundation
import Logging
import NIOCore
import Testing

@testable import TackWorker

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SMTP client against a real SMTP server: aiosmtpd (PyPI), started per test on a free port.
///
/// Needs `python3` with aiosmtpd and `openssl`; `./platform test` installs them. A missing server
/// fails the tests, it never skips them.
@Suite("SMTP client", .serialized)
struct SMTPClientTests {
    /// The clients' logger.
    let logger = Logger(label: "tack.worker.test")

    // MARK: Delivery

    @Test("delivers a UTF-8 message whose subject, sender name and body survive the round trip")
    func deliversPlainMessage() async throws {
        try await withSMTPServer { server in
            let text =
                "Hello Alice,\n.this line starts with a dot\n..and this one with two\n.\n"
                + "UTF-8: Grüße, 日本語, 🎉\n" + String(repeating: "long ", count: 400) + "\nbye\n"
            let subject = "Karte verschoben: „Grüße“ ✓ 日本語 — a subject long enough to need several encoded-words"
            let message = EmailMessage(
                from: EmailAddress("notify@tack.test", name: "Täck Bënachrichtigung"),
                to: ["alice@example.com", "bob@example.com"],
                subject: subject,
                text: text
            )
            try await client(server.settings(security: .none)).send(message)

            let received = try #require(try server.messages().only)
            #expect(received.mailFrom == "bounces@tack.test")
            #expect(received.rcptTos == ["alice@example.com", "bob@example.com"])
            #expect(received.to == ["alice@example.com", "bob@example.com"])
            #expect(received.subject == subject)
            #expect(received.fromName == "Täck Bënachrichtigung")
            #expect(received.fromAddress == "notify@tack.test")
            #expect(received.body == text)
            #expect(received.messageID.hasSuffix("@tack-worker.test>"))
            #expect(received.date != nil)
            #expect(received.tls == false)

            let raw = try received.rawBytes()
            #expect(raw.allSatisfy { $0 < 0x80 }, "everything is 7-bit: encoded-words and quoted-printable")
            let lines = raw.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            #expect(lines.dropLast().allSatisfy { $0.last == UInt8(ascii: "\r") }, "CRLF line endings only")
            #expect(lines.allSatisfy { $0.count <= 1000 }, "lines within 998 octets plus CRLF")
            let rawText = String(decoding: raw, as: UTF8.self)
            #expect(rawText.contains("MIME-Version: 1.0\r\n"))
            #expect(rawText.contains("Content-Type: text/plain; charset=utf-8\r\n"))
            #expect(rawText.contains("Content-Transfer-Encoding: quoted-printable\r\n"))
        }
    }

    @Test("a recipient the server refuses fails the send permanently, naming the address, and nothing is delivered")
    func refusedRecipient() async throws {
        try await withSMTPServer(["--reject", "gone@example.com"]) { server in
            let message = EmailMessage(
                from: EmailAddress("notify@tack.test"),
                to: ["alice@example.com", "gone@example.com"],
                subject: "Hi",
                text: "Hello"
            )
            let error = try await #require(throws: SMTPError.self) {
                try await client(server.settings(security: .none)).send(message)
            }
            #expect(error.code == .recipientRejected)
            #expect(error.recipient == "gone@example.com")
            #expect(error.replyCode == 550)
            #expect(error.isPermanent)
            #expect(error.description.contains("gone@example.com"))
            #expect(try server.messages().isEmpty)
        }
    }

    // MARK: TLS

    @Test("STARTTLS with a certificate trusted through trustedRootsPEMFile", arguments: ["localhost", "127.0.0.1"])
    func startTLS(host: String) async throws {
        try await withSMTPServer(tls: .startTLS) { server in
            var settings = server.settings(security: .startTLS)
            settings.host = host
            try await client(settings).send(sampleMessage)
            let received = try #require(try server.messages().only)
            #expect(received.tls)
            #expect(received.rcptTos == ["alice@example.com"])
        }
    }

    @Test("implicit TLS (port 465 style)")
    func implicitTLS() async throws {
        try await withSMTPServer(tls: .implicit) { server in
            try await client(server.settings(security: .tls)).send(sampleMessage)
            let received = try #require(try server.messages().only)
            #expect(received.tls)
        }
    }

    @Test("STARTTLS required but not offered fails without sending the message")
    func startTLSNotOffered() async throws {
        try await withSMTPServer { server in
            let error = try await #require(throws: SMTPError.self) {
                try await client(server.settings(security: .startTLS)).send(sampleMessage)
            }
            #expect(error.code == .startTLSUnavailable)
            #expect(!error.isPermanent)
            #expect(try server.messages().isEmpty)
        }
    }

    @Test("a certificate not signed by a trusted CA is refused")
    func untrustedCertificate() async throws {
        try await withSMTPServer(tls: .startTLS) { server in
            var settings = server.settings(security: .startTLS)
            settings.trustedRootsPEMFile = nil
            let error = try await #require(throws: SMTPError.self) { try await client(settings).send(sampleMessage) }
            #expect(error.code == .tlsFailure)
            #expect(!error.isPermanent)
            #expect(try server.messages().isEmpty)
        }
    }

    @Test("a trusted certificate for another host name is refused (hostname verification)")
    func certificateForAnotherHost() async throws {
        try await withSMTPServer(tls: .startTLS, certificateNames: "DNS:mail.example.org") { server in
            let error = try await #require(throws: SMTPError.self) {
                try await client(server.settings(security: .startTLS)).send(sampleMessage)
            }
            #expect(error.code == .tlsFailure)
            #expect(try server.messages().isEmpty)
        }
    }

    // MARK: Authentication

    @Test("AUTH PLAIN over STARTTLS")
    func authPlain() async throws {
        try await withSMTPServer(["--auth", "tack:s3cret pass"], tls: .startTLS) { server in
            var settings = server.settings(security: .startTLS)
            settings.username = "tack"
            settings.password = "s3cret pass"
            try await client(settings).send(sampleMessage)
            let received = try #require(try server.messages().only)
            #expect(received.authUser == "tack")
            #expect(received.authMechanism == "PLAIN")
            #expect(received.tls)
        }
    }

    @Test("a wrong password is a permanent 535 failure that does not show the password")
    func wrongPassword() async throws {
        try await withSMTPServer(["--auth", "tack:s3cret"], tls: .startTLS) { server in
            var settings = server.settings(security: .startTLS)
            settings.username = "tack"
            settings.password = "wrong-password"
            let error = try await #require(throws: SMTPError.self) { try await client(settings).send(sampleMessage) }
            #expect(error.code == .serverRejected)
            #expect(error.replyCode == 535)
            #expect(error.isPermanent)
            #expect(!error.description.contains("wrong-password"))
            #expect(try server.messages().isEmpty)
        }
    }

    @Test("AUTH LOGIN when the server does not offer PLAIN")
    func authLogin() async throws {
        try await withSMTPServer(["--auth", "tack:s3cret", "--auth-exclude", "PLAIN"], tls: .startTLS) { server in
            var settings = server.settings(security: .startTLS)
            settings.username = "tack"
            settings.password = "s3cret"
            try await client(settings).send(sampleMessage)
            let received = try #require(try server.messages().only)
            #expect(received.authUser == "tack")
            #expect(received.authMechanism == "LOGIN")
        }
    }

    @Test("credentials are never sent unencrypted unless allowInsecureAuth is set")
    func insecureAuth() async throws {
        try await withSMTPServer(["--auth", "tack:s3cret", "--auth-allow-plaintext"]) { server in
            var settings = server.settings(security: .none)
            settings.username = "tack"
            settings.password = "s3cret"
            let error = try await #require(throws: SMTPError.self) { try await client(settings).send(sampleMessage) }
            #expect(error.code == .insecureAuthentication)
            #expect(error.isPermanent)
            #expect(try server.messages().isEmpty)

            settings.allowInsecureAuth = true
            try await client(settings).send(sampleMessage)
            #expect(try server.messages().only?.authUser == "tack")
        }
    }

    // MARK: Failures before or without a conversation

    @Test("a server that is not listening is a transient failure")
    func serverNotListening() async throws {
        let settings = SMTPSettings(host: "127.0.0.1", port: try freePort(), security: .none, from: "bounces@tack.test")
        let error = try await #require(throws: SMTPError.self) { try await client(settings).send(sampleMessage) }
        #expect(error.code == .connectionFailed)
        #expect(!error.isPermanent)
    }

    @Test("a server that never answers times out, transiently")
    func serverSilent() async throws {
        try await withSMTPServer(["--silent"]) { server in
            var settings = server.settings(security: .none)
            settings.timeout = .milliseconds(500)
            let error = try await #require(throws: SMTPError.self) { try await client(settings).send(sampleMessage) }
            #expect(error.code == .timeout)
            #expect(error.command == "greeting")
            #expect(!error.isPermanent)
        }
    }

    /// Messages whose fields try to add a header or a recipient, or that have nobody to go to.
    static let injections: [EmailMessage] = [
        EmailMessage(
            from: EmailAddress("notify@tack.test"),
            to: ["alice@example.com"],
            subject: "Hi\r\nBcc: victim@example.com",
            text: "x"
        ),
        EmailMessage(from: EmailAddress("notify@tack.test"), to: ["alice@example.com"], subject: "Hi\nX-Evil: 1", text: "x"),
        EmailMessage(
            from: EmailAddress("notify@tack.test", name: "Tack\r\nBcc: victim@example.com"),
            to: ["alice@example.com"],
            subject: "Hi",
            text: "x"
        ),
        EmailMessage(
            from: EmailAddress("notify@tack.test"),
            to: ["alice@example.com>\r\nRCPT TO:<victim@example.com"],
            subject: "Hi",
            text: "x"
        ),
        EmailMessage(
            from: EmailAddress("notify@tack.test\r\nBcc: victim@example.com"),
            to: ["alice@example.com"],
            subject: "Hi",
            text: "x"
        ),
        EmailMessage(
            from: EmailAddress("notify@tack.test"),
            to: ["alice@example.com"],
            subject: "Hi",
            text: "x",
            messageID: "id@x>\r\nBcc: victim@example.com"
        ),
        EmailMessage(from: EmailAddress("notify@tack.test"), to: [], subject: "Hi", text: "x"),
    ]

    @Test("header injection and unusable addresses fail before connecting", arguments: injections)
    func headerInjection(message: EmailMessage) async throws {
        // Nothing listens on the port: getting `invalidMessage` rather than `connectionFailed` proves
        // the message was refused before any connection.
        let settings = SMTPSettings(host: "127.0.0.1", port: try freePort(), security: .none, from: "bounces@tack.test")
        let error = try await #require(throws: SMTPError.self) { try await client(settings).send(message) }
        #expect(error.code == .invalidMessage)
        #expect(error.isPermanent)
    }

    // MARK: Rendering

    @Test("rendered headers: date, generated Message-ID, MIME, CRLF only")
    func renderedHeaders() throws {
        let message = EmailMessage(
            from: EmailAddress("notify@tack.test", name: "Tack \"Bot\""),
            to: ["a@example.com"],
            subject: "Plain subject",
            text: "line 1\nline 2"
        )
        let text = try message.rendered(helloName: "worker1.tack.test", date: Date(timeIntervalSince1970: 1_752_566_709))
        #expect(text.hasPrefix("Date: Tue, 15 Jul 2025 08:05:09 +0000\r\nFrom: \"Tack \\\"Bot\\\"\" <notify@tack.test>\r\n"))
        #expect(text.contains("\r\nTo: a@example.com\r\nSubject: Plain subject\r\nMessage-ID: <"))
        #expect(text.contains("@worker1.tack.test>\r\nMIME-Version: 1.0\r\n"))
        #expect(text.hasSuffix("\r\n\r\nline 1\r\nline 2\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\r"))

        var withID = message
        withID.messageID = "<card-42.7@tack.test>"
        #expect(try withID.rendered(helloName: "x").contains("\r\nMessage-ID: <card-42.7@tack.test>\r\n"))
    }

    @Test("long header fields are folded: no line passes 998 octets")
    func longHeaders() throws {
        let message = EmailMessage(
            from: EmailAddress("notify@tack.test", name: String(repeating: "\"Quoted\" \\ name ", count: 30)),
            to: (1...40).map { "recipient\($0)@example.com" },
            subject: String(repeating: "word ", count: 300) + String(repeating: "x", count: 1200),
            text: String(repeating: "y", count: 5000)
        )
        let text = try message.rendered(helloName: "tack.test")
        for line in text.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 998)
        }
    }

    @Test("the mail.from config form parses into a mailbox")
    func parsesMailbox() throws {
        #expect(try EmailAddress(parsing: "Tack <tack@localhost>") == EmailAddress("tack@localhost", name: "Tack"))
        #expect(try EmailAddress(parsing: " \"Tack, Inc.\" <a@b.example> ") == EmailAddress("a@b.example", name: "Tack, Inc."))
        #expect(try EmailAddress(parsing: "a@b.example") == EmailAddress("a@b.example"))
        #expect(SMTPSettings.Security(rawValue: "starttls") == .startTLS)
        #expect(throws: SMTPError.self) { try EmailAddress(parsing: "Tack <not an address>") }
        #expect(throws: SMTPError.self) { try EmailAddress(parsing: "") }
    }

    @Test("DATA payload doubles leading dots and ends with the terminator")
    func dotStuffing() {
        let payload = SMTPClient.dataPayload("a\r\n.b\r\n..c\r\n.\r\n")
        #expect(String(buffer: payload) == "a\r\n..b\r\n...c\r\n..\r\n.\r\n")
    }

    // MARK: Helpers

    /// A small valid message.
    var sampleMessage: EmailMessage {
        EmailMessage(
            from: EmailAddress("notify@tack.test", name: "Tack"),
            to: ["alice@example.com"],
            subject: "Card moved",
            text: "Your card moved to Done.\n"
        )
    }

    /// A client on the shared event loop group.
    func client(_ settings: SMTPSettings) -> SMTPClient {
        SMTPClient(settings: settings, logger: logger)
    }
}

// MARK: - The aiosmtpd server

/// How the test server offers TLS.
private enum TestServerTLS {
    case none, startTLS, implicit
}

/// What the test server stored for one accepted message, decoded by Python's `email` package.
private struct ReceivedMessage: Decodable {
    let mailFrom: String
    let rcptTos: [String]
    let raw: String
    let subject: String?
    let fromName: String?
    let fromAddress: String?
    let to: [String]
    let messageID: String
    let date: String?
    let body: String
    let tls: Bool
    let authUser: String?
    let authMechanism: String?

    enum CodingKeys: String, CodingKey {
        case mailFrom = "mail_from"
        case rcptTos = "rcpt_tos"
        case raw, subject
        case fromName = "from_name"
        case
            fromAddress = "from_address"
        case to
        case messageID = "message_id"
        case date, body, tls
        case
            authUser = "auth_user"
        case authMechanism = "auth_mechanism"
    }

    /// The DATA content as the server received it, after dot-unstuffing.
    func rawBytes() throws -> [UInt8] {
        [UInt8](try #require(Data(base64Encoded: raw)))
    }
}

/// A running aiosmtpd with the handler below.
private final class TestSMTPServer {
    let port: Int
    let directory: URL
    let certificateFile: String?
    private let process: ChildProcess

    fileprivate init(port: Int, directory: URL, certificateFile: String?, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.certificateFile = certificateFile
        self.process = process
    }

    /// Settings pointing at this server, trusting its certificate.
    func settings(security: SMTPSettings.Security) -> SMTPSettings {
        SMTPSettings(
            host: "localhost",
            port: port,
            security: security,
            helloName: "tack-worker.test",
            timeout: .seconds(10),
            trustedRootsPEMFile: certificateFile,
            from: "bounces@tack.test"
        )
    }

    /// The messages accepted so far, oldest first.
    func messages() throws -> [ReceivedMessage] {
        let files = try FileManager.default.contentsOfDirectory(
            at: directory.appendingPathComponent("mail"),
            includingPropertiesForKeys: nil
        )
        .filter { $0.pathExtension == "json" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map { try JSONDecoder().decode(ReceivedMessage.self, from: Data(contentsOf: $0)) }
    }

    fileprivate func stop() async {
        process.forceStop()
        _ = await process.wait(within: .seconds(10))
    }
}

/// Starts aiosmtpd with `options` (and, for `tls`, a self-signed certificate for `certificateNames`
/// that the settings trust), runs `body`, stops the server.
///
/// The server is the only process the tests start: the script makes the certificate itself and
/// reports a missing aiosmtpd or openssl, so no wait depends on Foundation noticing a child's exit.
private func withSMTPServer(
    _ options: [String] = [],
    tls: TestServerTLS = .none,
    certificateNames: String = "DNS:localhost,IP:127.0.0.1",
    _ body: (TestSMTPServer) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tack-smtp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("mail"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let script = directory.appendingPathComponent("smtp_server.py")
    try smtpServerScript.write(to: script, atomically: true, encoding: .utf8)

    var arguments = ["python3", script.path, "0", directory.appendingPathComponent("mail").path] + options
    var certificateFile: String?
    if tls != .none {
        let certificate = directory.appendingPathComponent("cert.pem").path
        arguments += [
            "--tls-cert", certificate, "--tls-key", directory.appendingPathComponent("key.pem").path,
            "--make-cert", certificateNames,
        ]
        if tls == .implicit {
            arguments.append("--implicit-tls")
        }
        certificateFile = certificate
    }

    let stderrFile = directory.appendingPathComponent("stderr.log")
    let process = try ChildProcess(arguments, stderrFile: stderrFile)
    // The script prints "READY <port>" once it listens, or "MISSING <tool>", or exits: a blocking
    // read, no polling.
    let firstLine = await process.readLine(within: .seconds(60))
    let words = firstLine.split(whereSeparator: \.isWhitespace)
    guard words.count == 2, words[0] == "READY", let port = Int(words[1]) else {
        process.forceStop()
        _ = await process.wait(within: .seconds(10))
        if words.first == "MISSING", let tool = words.last {
            let byHand = tool == "aiosmtpd" ? "python3 -m pip install aiosmtpd" : "apt-get install \(tool)"
            throw TestEnvironmentError(
                "\(tool) is not installed, and these tests need it to run a real SMTP server: "
                    + "`./platform test` installs it (by hand: `\(byHand)`)"
            )
        }
        let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        throw TestEnvironmentError("the aiosmtpd test server (python3) did not start: \(firstLine)\n\(stderr)")
    }

    let server = TestSMTPServer(port: port, directory: directory, certificateFile: certificateFile, process: process)
    do {
        try await body(server)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// A child process whose exit is awaited without blocking a thread of the test runner's pool.
///
/// Waits are bounded: a hung child fails its test instead of hanging the run.
private final class ChildProcess: Sendable {
    private let process = Process()
    private let stdout = Pipe()
    private let stdin = Pipe()
    private let exited: AsyncStream<Int32>

    /// Starts `arguments` (looked up in PATH), stderr to `stderrFile`, stdout left for `readLine(within:)`.
    init(_ arguments: [String], stderrFile: URL) throws {
        let (exited, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.exited = exited
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let stderr = try FileHandle(forWritingTo: stderrFile)
        defer { try? stderr.close() }
        process.standardError = stderr
        process.standardOutput = stdout
        // The server exits when stdin closes, so it cannot outlive a test process that dies.
        process.standardInput = stdin
        try process.run()
    }

    /// The first line of standard output; what there is if the process exits first or `timeout` passes
    /// (the process is then killed).
    func readLine(within timeout: Duration) async -> String {
        let reader = stdout.fileHandleForReading
        let watchdog = Task { [self] in
            try await Task.sleep(for: timeout)
            forceStop()
        }
        defer { watchdog.cancel() }
        return await withCheckedContinuation { continuation in
            // A thread of its own for the blocking read, outside the concurrency pool.
            Thread {
                var collected = Data()
                while !collected.contains(UInt8(ascii: "\n")) {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    collected.append(chunk)
                }
                continuation.resume(returning: String(decoding: collected, as: UTF8.self))
            }.start()
        }
    }

    /// The exit status, or nil if the process has not exited within `timeout`.
    func wait(within timeout: Duration) async -> Int32? {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask { [exited] in
                for await status in exited {
                    return status
                }
                return -1
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Kills the process. SIGKILL, because a child spawned from a thread that blocks SIGTERM (as the
    /// test runner's threads do) inherits that mask.
    func forceStop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning {
            _ = kill(process.processIdentifier, SIGKILL)
        }
    }
}

/// A loopback port nothing listens on (bound and released at once).
private func freePort() throws -> Int {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    try #require(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    try #require(bound)
    return Int(UInt16(bigEndian: address.sin_port))
}

private struct TestEnvironmentError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Array {
    /// The single element, or nil when there are none or several.
    fileprivate var only: Element? { count == 1 ? first : nil }
}

/// The test server: aiosmtpd with a handler that stores each accepted message as JSON, decoded by
/// Python's `email` package so the client's encoding is checked by an independent decoder.
private let smtpServerScript = #"""
    import argparse, asyncio, base64, email, email.policy, json, os, shutil, signal, ssl, subprocess, sys, uuid

    signal.pthread_sigmask(signal.SIG_SETMASK, set())  # the test process's threads block signals
    try:
        from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
    except ImportError:
        print("MISSING aiosmtpd", flush=True)
        sys.exit(3)

    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)  # 0: any free port, printed as "READY <port>"
    parser.add_argument("outdir")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--make-cert")  # subjectAltName: create a self-signed --tls-cert/--tls-key first
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth")  # user:password
    parser.add_argument("--auth-exclude", action="append", default=[])
    parser.add_argument("--auth-allow-plaintext", action="store_true")
    parser.add_argument("--reject", action="append", default=[])  # recipient answered with 550
    parser.add_argument("--silent", action="store_true")  # accept connections, never answer
    args = parser.parse_args()
    user, _, password = (args.auth or "").partition(":")


    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in args.reject:
                return f"550 5.1.1 <{address}>: Recipient address rejected"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            raw = envelope.content
            message = email.message_from_bytes(raw, policy=email.policy.default)
            sender = message["from"].addresses[0]
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "raw": base64.b64encode(raw).decode("ascii"),
                "subject": str(message["subject"]),
                "from_name": sender.display_name,
                "from_address": sender.addr_spec,
                "to": [a.addr_spec for a in message["to"].addresses],
                "message_id": str(message["message-id"]),
                "date": str(message["date"]) if message["date"] else None,
                "body": message.get_content().replace("\r\n", "\n"),
                "tls": server.transport.get_extra_info("ssl_object") is not None or session.ssl is not None,
                "auth_user": session.auth_data if session.authenticated else None,
                "auth_mechanism": getattr(session, "tack_mechanism", None),
            }
            name = os.path.join(args.outdir, f"{asyncio.get_running_loop().time():020.6f}-{uuid.uuid4()}")
            with open(name + ".tmp", "w") as f:
                json.dump(record, f)
            os.rename(name + ".tmp", name + ".json")
            return "250 2.0.0 OK queued"


    def authenticator(server, session, envelope, mechanism, auth_data):
        session.tack_mechanism = mechanism
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == user and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


    async def silent(reader, writer):
        await reader.read()


    if args.make_cert:
        if shutil.which("openssl") is None:
            print("MISSING openssl", flush=True)
            sys.exit(3)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", f"subjectAltName={args.make_cert}", "-keyout", args.tls_key, "-out", args.tls_cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)


    def factory():
        return SMTP(
            Handler(),
            hostname="tack-test-smtp",
            loop=loop,
            tls_context=None if args.implicit_tls else tls_context,
            authenticator=authenticator if args.auth else None,
            auth_require_tls=not (args.auth_allow_plaintext or args.implicit_tls),
            auth_exclude_mechanism=args.auth_exclude,
        )


    if args.silent:
        server = loop.run_until_complete(asyncio.start_server(silent, "127.0.0.1", args.port))
    else:
        server = loop.run_until_complete(loop.create_server(
            factory, host="127.0.0.1", port=args.port, ssl=tls_context if args.implicit_tls else None))


    def stdin_readable():
        if not os.read(sys.stdin.fileno(), 4096):  # the test closed it, or died
            loop.stop()


    loop.add_reader(sys.stdin.fileno(), stdin_readable)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    loop.run_forever()
    """#
