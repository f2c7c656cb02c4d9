import Foundation
import ServiceLifecycle
import TackRedis
import Testing

/// Commands through the pool against the shared test Redis.
@Suite("RedisClient")
struct RedisClientTests {
    @Test("values are binary-safe: every byte, CR LF inside, empty, 1 MiB")
    func binarySafeValues() async throws {
        try await TestRedis.withClient { client in
            let prefix = TestRedis.uniquePrefix()
            var random = SystemRandomNumberGenerator()
            let values: [(String, [UInt8])] = [
                ("all-bytes", (0...255).map { UInt8($0) }),
                ("crlf", Array("line one\r\n$5\r\n*2\r\nline two\r\n".utf8)),
                ("nul", [0, 0, 13, 10, 0]),
                ("empty", []),
                ("mebibyte", (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }),
            ]
            for (name, value) in values {
                try await client.set(prefix + name, value)
                let read = try await client.get(prefix + name)
                #expect(read == value, "value \(name) changed on the way through Redis")
                #expect(try await client.send("STRLEN", prefix + name).int == value.count)
            }
            // Binary keys as well as values.
            let binaryKey: [UInt8] = Array(prefix.utf8) + [0, 255, 13, 10]
            _ = try await client.sendChecked("SET", binaryKey, "v")
            #expect(try await client.send("GET", binaryKey) == .bulkString(Array("v".utf8)))
            #expect(try await client.get(prefix + "missing") == nil)
            #expect(try await client.del(prefix + "all-bytes", prefix + "crlf", prefix + "missing") == 2)
        }
    }

    @Test("64 concurrent callers x 500 INCR each see their own strictly increasing counts")
    func pipelineOrderingUnderConcurrency() async throws {
        try await TestRedis.withClient { client in
            let prefix = TestRedis.uniquePrefix()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<64 {
                    group.addTask {
                        var previous = 0
                        for _ in 0..<500 {
                            let value = try await client.send("INCR", prefix + "\(caller)")
                            guard let count = value.int else {
                                Issue.record("INCR returned \(value)")
                                return
                            }
                            // Each reply must belong to this caller's own command: anything else
                            // means replies were handed to the wrong waiter.
                            #expect(count == previous + 1, "caller \(caller) got \(count) after \(previous)")
                            previous = count
                        }
                    }
                }
                try await group.waitForAll()
            }
            for caller in [0, 31, 63] {
                #expect(try await client.get(prefix + "\(caller)").map { String(decoding: $0, as: UTF8.self) } == "500")
            }
        }
    }

    @Test("pipeline() returns the replies of mixed commands in order, errors included")
    func pipelineOfMixedCommands() async throws {
        try await TestRedis.withClient { client in
            let prefix = TestRedis.uniquePrefix()
            let replies = try await client.pipeline([
                ["SET", prefix + "n", 41],
                ["INCR", prefix + "n"],
                ["GET", prefix + "n"],
                ["RPUSH", prefix + "list", "a", "b"],
                ["LRANGE", prefix + "list", 0, -1],
                ["INCR", prefix + "list"],
                ["GET", prefix + "absent"],
                ["PING"],
            ])
            #expect(replies.count == 8)
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1] == .integer(42))
            #expect(replies[2] == .bulkString(Array("42".utf8)))
            #expect(replies[3] == .integer(2))
            #expect(replies[4] == .array([.bulkString([97]), .bulkString([98])]))
            #expect(replies[5].errorMessage?.hasPrefix("WRONGTYPE") == true)
            #expect(replies[6] == .null)
            #expect(replies[7] == .simpleString("PONG"))
            #expect(try await client.pipeline([]).isEmpty)
        }
    }

    @Test("error replies are values and the connection keeps working")
    func errorRepliesAreValues() async throws {
        try await TestRedis.withClient(poolSize: 1) { client in
            let prefix = TestRedis.uniquePrefix()
            try await client.set(prefix + "s", "text")
            let wrongType = try await client.send("LPUSH", prefix + "s", "x")
            guard case .error(let message) = wrongType else {
                Issue.record("expected an error reply, got \(wrongType)")
                return
            }
            #expect(message.hasPrefix("WRONGTYPE"))
            #expect(try await client.send("NOSUCHCOMMAND").errorMessage?.hasPrefix("ERR") == true)
            // Same (only) connection, still in step.
            #expect(try await client.get(prefix + "s") == Array("text".utf8))

            let thrown = await #expect(throws: RedisError.self) {
                _ = try await client.sendChecked("LPUSH", prefix + "s", "x")
            }
            #expect(thrown?.code == .replyError)
            #expect(thrown?.message.contains("WRONGTYPE") == true)
            _ = try await client.send("RPUSH", prefix + "s-list", "x")
            let wrongGet = await #expect(throws: RedisError.self) { _ = try await client.get(prefix + "s-list") }
            #expect(wrongGet?.code == .replyError)
            try await client.ping()
        }
    }

    @Test("RESPValue accessors")
    func respValueAccessors() {
        #expect(RESPValue.bulkString(Array("12".utf8)).int == 12)
        #expect(RESPValue.integer(7).int == 7)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.bulkString([0xE2, 0x9C, 0x93]).string == "✓")
        #expect(RESPValue.null.isNull)
        #expect(RESPValue.array([]).array == [])
        #expect(RESPValue.null.array == nil)
        #expect(RESPValue.error("ERR x").string == nil)
        #expect(RESPValue.bulkString([1, 2]).bytes == [1, 2])
    }

    @Test("arguments encode as Redis expects")
    func argumentEncoding() async throws {
        try await TestRedis.withClient { client in
            let prefix = TestRedis.uniquePrefix()
            #expect(try await client.sendChecked("SET", prefix + "i", Int.min).string == "OK")
            #expect(try await client.get(prefix + "i") == Array(String(Int.min).utf8))
            _ = try await client.sendChecked("SET", prefix + "u", UInt64.max)
            #expect(try await client.get(prefix + "u") == Array(String(UInt64.max).utf8))
            _ = try await client.sendChecked("SET", prefix + "d", 0.0)
            #expect(try await client.send("INCRBYFLOAT", prefix + "d", 1.5).string == "1.5")
            _ = try await client.sendChecked("SET", prefix + "sub", "xsubstringx".dropFirst().dropLast())
            #expect(try await client.get(prefix + "sub") == Array("substring".utf8))
            _ = try await client.sendChecked("SET", prefix + "64", Int64(-5))
            #expect(try await client.send("INCR", prefix + "64") == .integer(-4))
            _ = try await client.sendChecked("SET", prefix + "unicode", "žluťoučký 🐎")
            #expect(try await client.send("GET", prefix + "unicode").string == "žluťoučký 🐎")
        }
    }

    @Test("scripts run by SHA1 and fall back to EVAL after SCRIPT FLUSH")
    func scriptsFallBackOnNoScript() async throws {
        try await TestRedis.withClient { client in
            let prefix = TestRedis.uniquePrefix()
            // A unique source so the SHA is not already cached by another run.
            let script = RedisScript("-- \(prefix)\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(script.sha1.count == 40)
            #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")

            #expect(try await client.evaluate(script, keys: [prefix + "n"], args: [5]) == .integer(5))
            #expect(try await client.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))
            _ = try await client.sendChecked("SCRIPT", "FLUSH")
            #expect(try await client.send("EVALSHA", script.sha1, 1, prefix + "n", 1).errorMessage?.hasPrefix("NOSCRIPT") == true)
            #expect(try await client.evaluate(script, keys: [prefix + "n"], args: [5]) == .integer(10))
            // EVAL cached it again.
            #expect(try await client.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))

            let failing = RedisScript("return redis.error_reply('TACKFAIL \(prefix)')")
            let error = await #expect(throws: RedisError.self) { _ = try await client.evaluate(failing, keys: [], args: []) }
            #expect(error?.code == .replyError)
            #expect(error?.message.contains("TACKFAIL") == true)
        }
    }

    @Test("INFO is parsed into key/value pairs")
    func infoIsParsed() async throws {
        try await TestRedis.withClient { client in
            let server = try await client.info(section: "server")
            #expect(server["redis_version"]?.isEmpty == false)
            #expect(server["# Server"] == nil)
            let all = try await client.info()
            #expect(all["connected_clients"] != nil)
        }
    }

    @Test("commands after shutdown throw poolShutdown")
    func commandsAfterShutdownThrow() async throws {
        let client = RedisClient(configuration: try TestRedis.configuration(), logger: TestRedis.logger)
        try await client.ping()
        client.shutdown()
        client.shutdown()  // idempotent
        let error = await #expect(throws: RedisError.self) { try await client.ping() }
        #expect(error?.code == .poolShutdown)
        let pipelineError = await #expect(throws: RedisError.self) { _ = try await client.pipeline([["PING"]]) }
        #expect(pipelineError?.code == .poolShutdown)
        let blockingError = await #expect(throws: RedisError.self) {
            _ = try await client.withBlockingConnection { try await $0.send(["PING"]) }
        }
        #expect(blockingError?.code == .poolShutdown)
        // run() after shutdown returns at once (and joins the threads).
        try await client.run()
    }

    @Test("run() returns when its task is cancelled, and the client then refuses commands")
    func runStopsOnCancellation() async throws {
        let client = RedisClient(configuration: try TestRedis.configuration(), logger: TestRedis.logger)
        let runner = Task { try await client.run() }
        try await client.ping()
        runner.cancel()
        try await runner.value
        let error = await #expect(throws: RedisError.self) { try await client.ping() }
        #expect(error?.code == .poolShutdown)
    }

    @Test("a ServiceGroup's graceful shutdown stops run() and the client")
    func gracefulShutdownInServiceGroup() async throws {
        let client = RedisClient(configuration: try TestRedis.configuration(), logger: TestRedis.logger)
        let group = ServiceGroup(configuration: .init(services: [client], logger: TestRedis.logger))
        let runner = Task { try await group.run() }
        try await client.ping()
        await group.triggerGracefulShutdown()
        try await runner.value
        let error = await #expect(throws: RedisError.self) { try await client.ping() }
        #expect(error?.code == .poolShutdown)
    }

    @Test("a command that gets no reply fails with timeout instead of hanging")
    func commandTimeout() async throws {
        // A socket that listens but never accepts: the kernel completes the TCP handshake, the
        // command is written, and no reply ever comes.
        let silent = try SilentListener()
        var configuration = RedisConfiguration(host: "127.0.0.1", port: silent.port, poolSize: 1)
        configuration.commandTimeout = .milliseconds(300)
        try await TestRedis.withClient(configuration: configuration) { client in
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(error?.code == .timeout)
            #expect(secondsSince(start) < 3)
        }
    }

    @Test("invalid URLs throw invalidURL; valid ones fill every field")
    func urlParsing() throws {
        for url in [
            "http://127.0.0.1:6379", "redis://", "redis://host:0", "redis://host:99999", "redis://host:port",
            "redis://host/-1", "redis://host/db", "redis://user:pw@host", "rediss://host", "redis://:pw%zz@host",
            "redis://[::1", "not a url",
        ] {
            let error = #expect(throws: RedisError.self, "\(url)") { try RedisConfiguration(url: url) }
            #expect(error?.code == .invalidURL)
        }
        let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://user:s3cret@host") }
        #expect(error?.message.contains("s3cret") == false, "the password must not be echoed")

        let plain = try RedisConfiguration(url: "redis://127.0.0.1:6390/0")
        #expect(plain.host == "127.0.0.1" && plain.port == 6390 && plain.database == 0 && plain.password == nil)
        let full = try RedisConfiguration(url: "redis://:p%40ss%3Aword@redis.internal:7000/3")
        #expect(full.host == "redis.internal" && full.port == 7000 && full.database == 3 && full.password == "p@ss:word")
        let user = try RedisConfiguration(url: "redis://default:pw@h")
        #expect(user.password == "pw" && user.port == 6379)
        let ipv6 = try RedisConfiguration(url: "redis://[::1]:6380")
        #expect(ipv6.host == "::1" && ipv6.port == 6380)
        let defaults = try RedisConfiguration(url: "REDIS://localhost")
        #expect(defaults.host == "localhost" && defaults.poolSize == 4 && defaults.commandTimeout == .seconds(10))
    }
}

/// A TCP listener that never accepts, to provoke timeouts.
final class SilentListener: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure(call: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXFailure(call: "bind/listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
