import Foundation
import Synchronization
import TackTestSupport
import Testing

@testable import TackRedis

#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server --sentinel` of a test's own, monitoring one master under a name, on a free port.
final class PrivateSentinel: Sendable {
    let port: Int
    private let directory: String
    private let process = Mutex<Process?>(nil)

    /// Writes a sentinel config (quorum 1, down-after 1000 ms, failover-timeout 3000 ms) and starts it.
    init(monitoring name: String, masterPort: Int) async throws {
        port = try freePort()
        directory = NSTemporaryDirectory() + "tack-sentinel-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = """
            port \(port)
            bind 127.0.0.1
            daemonize no
            dir \(directory)
            loglevel warning
            sentinel monitor \(name) 127.0.0.1 \(masterPort) 1
            sentinel down-after-milliseconds \(name) 1000
            sentinel failover-timeout \(name) 3000

            """
        let path = directory + "/sentinel.conf"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["redis-server", path, "--sentinel"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        process.withLock { $0 = server }
        try await eventually(timeout: .seconds(10), interval: .milliseconds(20)) {
            guard canConnect(port: port) else { throw POSIXFailure(call: "connect to the sentinel on \(port)") }
        }
    }

    deinit {
        process.withLock { process in
            if let process, process.isRunning {
                // SIGKILL: the test process may block SIGTERM, and children inherit the mask.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var endpoint: RedisSentinelConfiguration.Endpoint { .init(host: "127.0.0.1", port: port) }
}

/// Runs one command against 127.0.0.1:port with a short-lived client of its own (no Sentinel).
func direct(_ port: Int, _ command: any RedisArgumentConvertible...) async throws -> RESPValue {
    let configuration = RedisConfiguration(host: "127.0.0.1", port: port, poolSize: 1, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    return try await TestRedis.withClient(configuration: configuration) { try await $0.send(command) }
}

/// Client names (`CLIENT SETNAME`) of the tack-* connections open on 127.0.0.1:port, not
/// counting the connection that asks.
func tackClients(on port: Int) async throws -> [String] {
    let configuration = RedisConfiguration(host: "127.0.0.1", port: port, poolSize: 1, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    let replies = try await TestRedis.withClient(configuration: configuration) { try await $0.pipeline([["CLIENT", "ID"], ["CLIENT", "LIST"]]) }
    let own = "id=\(replies[0].int ?? -1)"
    return (replies[1].string ?? "").split(separator: "\n").compactMap { line -> String? in
        let fields = line.split(separator: " ")
        guard fields.first.map(String.init) != own else { return nil }
        return fields.first { $0.hasPrefix("name=") }.map { String($0.dropFirst(5)) }
    }.filter { $0.hasPrefix("tack-") }
}

/// Redis Sentinel support, against real redis-server and `redis-server --sentinel` processes.
@Suite("Redis Sentinel")
struct RedisSentinelTests {
    static func configuration(
        sentinels: [RedisSentinelConfiguration.Endpoint],
        name: String,
        failoverTimeout: Duration = .seconds(10),
        poolSize: Int = 2
    ) -> RedisConfiguration {
        var configuration = RedisConfiguration(
            host: "192.0.2.1",
            port: 1,
            poolSize: poolSize,
            connectTimeout: .seconds(2),
            commandTimeout: .seconds(5)
        )
        configuration.sentinel = RedisSentinelConfiguration(
            sentinels: sentinels,
            masterName: name,
            failoverTimeout: failoverTimeout,
            sentinelTimeout: .milliseconds(300)
        )
        return configuration
    }

    @Test("the master is found through the sentinels; the first that answers moves to the head")
    func resolverOrder() async throws {
        let master = try await PrivateRedisServer()
        let ignorant = try await PrivateSentinel(monitoring: "other", masterPort: master.port)
        let knowing = try await PrivateSentinel(monitoring: "tack", masterPort: master.port)
        let dead = RedisSentinelConfiguration.Endpoint(host: "127.0.0.1", port: try freePort())
        // The host and port of the configuration are never used with Sentinel (192.0.2.1 is unroutable).
        let configuration = Self.configuration(sentinels: [dead, ignorant.endpoint, knowing.endpoint], name: "tack")
        try await TestRedis.withClient(configuration: configuration) { client in
            try await client.set("k", "v")
            #expect(try await direct(master.port, "GET", "k") == .bulkString(Array("v".utf8)))
            #expect(client.currentMaster == "127.0.0.1:\(master.port)")
            #expect(client.resolver.sentinelOrder == [knowing.endpoint, dead, ignorant.endpoint])
            // Connections are named, so an operator (and the system test) can find them in CLIENT LIST.
            #expect(try await tackClients(on: master.port).contains("tack-redis-0"))
        }
        master.stop()
    }

    @Test("an unknown master name and unreachable sentinels fail with distinct errors")
    func unknownMasterName() async throws {
        let master = try await PrivateRedisServer()
        let sentinel = try await PrivateSentinel(monitoring: "tack", masterPort: master.port)
        let unknown = Self.configuration(sentinels: [sentinel.endpoint], name: "nosuch", failoverTimeout: .seconds(1))
        try await TestRedis.withClient(configuration: unknown) { client in
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(error?.code == .unknownMasterName, "got \(String(describing: error))")
            #expect(error?.message.contains("nosuch") == true)
        }
        let unreachable = Self.configuration(
            sentinels: [.init(host: "127.0.0.1", port: try freePort())],
            name: "tack",
            failoverTimeout: .seconds(1)
        )
        try await TestRedis.withClient(configuration: unreachable) { client in
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(error?.code == .sentinelsUnreachable, "got \(String(describing: error))")
            #expect(secondsSince(start) < 5)
        }
        master.stop()
    }

    @Test("a server whose ROLE is not master is never used; the client retries until it is")
    func wrongRoleRetries() async throws {
        let master = try await PrivateRedisServer()
        let other = try await PrivateRedisServer()
        let sentinel = try await PrivateSentinel(monitoring: "tack", masterPort: master.port)
        // The sentinel still names `master`, but it is a replica now.
        _ = try await direct(master.port, "REPLICAOF", "127.0.0.1", other.port)

        let short = Self.configuration(sentinels: [sentinel.endpoint], name: "tack", failoverTimeout: .seconds(1))
        try await TestRedis.withClient(configuration: short) { client in
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(error?.code == .noMaster, "got \(String(describing: error))")
        }

        let logs = LogCapture()
        let patient = Self.configuration(sentinels: [sentinel.endpoint], name: "tack", failoverTimeout: .seconds(10))
        try await TestRedis.withClient(configuration: patient, logger: logs.logger()) { client in
            let restore = Task {
                try await Task.sleep(for: .milliseconds(1200))
                _ = try await direct(master.port, "REPLICAOF", "NO", "ONE")
            }
            let start = ContinuousClock.now
            try await client.set("k", "after")
            #expect(secondsSince(start) >= 1.0, "the write went through before the server was a master again")
            try await restore.value
            #expect(try await direct(master.port, "GET", "k") == .bulkString(Array("after".utf8)))
        }
        #expect(logs.all.contains { $0.contains("No Redis master yet") && $0.contains("not the master") })
        master.stop()
        other.stop()
    }

    @Test("READONLY from a demoted master re-resolves, retries once, and leaves no connection on the old master")
    func readonlyReResolves() async throws {
        let old = try await PrivateRedisServer()
        let new = try await PrivateRedisServer()
        let sentinel = try await PrivateSentinel(monitoring: "tack", masterPort: old.port)
        let logs = LogCapture()
        let configuration = Self.configuration(sentinels: [sentinel.endpoint], name: "tack", poolSize: 3)
        try await TestRedis.withClient(configuration: configuration, logger: logs.logger()) { client in
            // Open every pooled connection and a subscriber on the old master.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<60 { group.addTask { try await client.set("warm:\(index)", index) } }
                try await group.waitForAll()
            }
            let subscriber = client.makeSubscriber()
            defer { subscriber.close() }
            try await subscriber.subscribe(["news"])
            #expect(try await tackClients(on: old.port).count >= 2)

            // Demote the old master by hand (no client is killed), promote the other server,
            // and only later tell the sentinel: the client must not write to the old one meanwhile.
            _ = try await direct(new.port, "REPLICAOF", "NO", "ONE")
            _ = try await direct(old.port, "REPLICAOF", "127.0.0.1", new.port)
            let repoint = Task {
                try await Task.sleep(for: .milliseconds(800))
                _ = try await direct(sentinel.port, "SENTINEL", "REMOVE", "tack")
                _ = try await direct(sentinel.port, "SENTINEL", "MONITOR", "tack", "127.0.0.1", new.port, 1)
            }
            try await client.set("k", "on-new")
            try await repoint.value
            #expect(try await direct(new.port, "GET", "k") == .bulkString(Array("on-new".utf8)))
            #expect(client.currentMaster == "127.0.0.1:\(new.port)")

            // The subscriber follows the master: a message published on the new master arrives.
            var messages = subscriber.messages.makeAsyncIterator()
            try await eventually(timeout: .seconds(10), interval: .milliseconds(100)) {
                guard try await client.send("PUBLISH", "news", "hello") == .integer(1) else {
                    throw RedisError(.connectionClosed, "subscriber not on the new master yet")
                }
            }
            #expect(await messages.next()?.payload == Array("hello".utf8))

            // Idle connections of the old epoch close by themselves.
            try await eventually(timeout: .seconds(5), interval: .milliseconds(100)) {
                let left = try await tackClients(on: old.port)
                guard left.isEmpty else { throw RedisError(.connectionClosed, "still on the old master: \(left)") }
            }
        }
        #expect(logs.all.contains { $0.contains("not a usable master") && $0.contains("READONLY") })
        old.stop()
        new.stop()
    }
}
