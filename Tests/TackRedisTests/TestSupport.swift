import Foundation
import Logging
import Synchronization
import TackRedis
import TackTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Redis server `./platform test` starts, and helpers shared by the suites.
enum TestRedis {
    /// The shared test server's configuration. A missing variable fails the test (never skips):
    /// under CI a silently skipped Redis suite would hide a broken client.
    static func configuration(poolSize: Int = 4) throws -> RedisConfiguration {
        try TestServers.redisConfiguration(poolSize: poolSize)
    }

    /// Logs at warning and above to stderr, so reconnect warnings show up in a failing run.
    static let logger: Logger = {
        var logger = Logger(label: "tack.redis.test")
        logger.logLevel = .warning
        return logger
    }()

    /// A key prefix no other test uses: the suites run in parallel against one server.
    static func uniquePrefix(_ name: String = #function) -> String {
        "tack:test:\(name.prefix { $0 != "(" }):\(UUID().uuidString.prefix(8)):"
    }

    /// Runs `body` with a client on the shared test server, shutting it down afterwards.
    static func withClient<T: Sendable>(
        poolSize: Int = 4,
        _ body: (RedisClient) async throws -> T
    ) async throws -> T {
        try await withClient(configuration: configuration(poolSize: poolSize), body)
    }

    /// Runs `body` with a client for `configuration`, running the client as a service would be.
    static func withClient<T: Sendable>(
        configuration: RedisConfiguration,
        logger: Logger = TestRedis.logger,
        _ body: (RedisClient) async throws -> T
    ) async throws -> T {
        try await TestServers.withRunning(RedisClient(configuration: configuration, logger: logger), run: { try await $0.run() }, body)
    }
}

/// Seconds since `start`, for "fails fast" checks.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = start.duration(to: .now)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Retries `body` until it returns without throwing or `timeout` passes (then rethrows).
func eventually<T>(
    timeout: Duration = .seconds(10),
    interval: Duration = .milliseconds(50),
    _ body: () async throws -> T
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            return try await body()
        } catch {
            if ContinuousClock.now >= deadline { throw error }
            try await Task.sleep(for: interval)
        }
    }
}

/// A free TCP port on 127.0.0.1: bind port 0, read the port the kernel chose, close.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXFailure(call: "socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw POSIXFailure(call: "bind") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

struct POSIXFailure: Error, CustomStringConvertible {
    let call: String
    let code = errno
    var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}

/// A redis-server of a test's own, on a free port, that the test can stop and start again on the
/// same port (to simulate an outage) — the shared server must not be disturbed.
final class PrivateRedisServer: Sendable {
    let port: Int
    private let extraArguments: [String]
    private let process = Mutex<Process?>(nil)

    /// Picks a free port and starts the server.
    init(arguments: [String] = []) async throws {
        port = try freePort()
        extraArguments = arguments
        try await start()
    }

    deinit {
        process.withLock { process in
            if let process, process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
    }

    /// A client configuration pointing at this server.
    func configuration(poolSize: Int = 2) -> RedisConfiguration {
        RedisConfiguration(host: "127.0.0.1", port: port, poolSize: poolSize, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    }

    /// Starts redis-server (no persistence, foreground) and waits until it accepts connections.
    func start() async throws {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments =
            [
                "redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--loglevel", "warning",
            ] + extraArguments
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        process.withLock { $0 = server }
        try await eventually(timeout: .seconds(10), interval: .milliseconds(20)) {
            guard canConnect(port: port) else { throw POSIXFailure(call: "connect to redis-server on \(port)") }
        }
    }

    /// Kills the server (SIGKILL: an outage, not a polite shutdown) and waits until it is gone.
    func stop() {
        process.withLock { process in
            guard let server = process else { return }
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            process = nil
        }
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
