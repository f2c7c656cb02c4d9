import Foundation
import TackRedis
import TackTestSupport
import Testing

/// Outages and authentication, each against a redis-server of its own that the test stops and
/// starts again on the same port.
@Suite("Restarts and authentication")
struct RedisRestartTests {
    @Test("commands fail fast while Redis is down and succeed again after it returns")
    func survivesServerRestart() async throws {
        let server = try await PrivateRedisServer()
        let logs = LogCapture()
        try await TestRedis.withClient(configuration: server.configuration(poolSize: 2), logger: logs.logger()) { client in
            try await client.set("k", "before")
            #expect(try await client.get("k") == Array("before".utf8))

            server.stop()
            // Every command fails, none hangs: in-flight ones with connectionClosed, later ones
            // with connectionFailed (refused, or waiting out the backoff).
            for attempt in 0..<20 {
                let start = ContinuousClock.now
                let error = await #expect(throws: RedisError.self, "attempt \(attempt)") { try await client.ping() }
                #expect(error?.code == .connectionFailed || error?.code == .connectionClosed, "got \(String(describing: error))")
                #expect(secondsSince(start) < 2, "a command while Redis is down took \(secondsSince(start)) s")
                try await Task.sleep(for: .milliseconds(25))
            }

            try await server.start()
            // Backoff tops out at 2 s, so every connection is back well within 10 s.
            try await eventually(timeout: .seconds(10)) {
                try await client.set("k", "after")
            }
            for _ in 0..<10 {
                #expect(try await client.get("k") == Array("after".utf8))
            }
        }
        server.stop()
        #expect(logs.all.contains { $0.hasPrefix("warning") && $0.contains("Reconnecting") })
        #expect(logs.all.contains { $0.hasPrefix("info") && $0.contains("Reconnected") })
    }

    @Test("the subscriber re-subscribes after a restart")
    func subscriberResubscribesAfterRestart() async throws {
        let server = try await PrivateRedisServer()
        try await TestRedis.withClient(configuration: server.configuration()) { client in
            let subscriber = client.makeSubscriber()
            defer { subscriber.close() }
            var messages = subscriber.messages.makeAsyncIterator()
            try await subscriber.subscribe(["news", "other"])
            #expect(try await client.send("PUBLISH", "news", "one") == .integer(1))
            #expect(await messages.next()?.payload == Array("one".utf8))

            server.stop()
            try await server.start()
            // Publish until the subscriber is back (PUBLISH counts receivers).
            try await eventually(timeout: .seconds(10), interval: .milliseconds(100)) {
                let receivers = try await client.send("PUBLISH", "news", "two")
                guard receivers == .integer(1) else { throw RedisError(.connectionClosed, "not re-subscribed yet") }
            }
            #expect(await messages.next() == RedisSubscriber.Message(channel: "news", payload: Array("two".utf8)))
            #expect(try await client.send("PUBLISH", "other", "three") == .integer(1))
            #expect(await messages.next()?.channel == "other")
        }
        server.stop()
    }

    @Test("subscribe fails fast while Redis is down")
    func subscribeFailsFastWhileDown() async throws {
        let server = try await PrivateRedisServer()
        server.stop()
        try await TestRedis.withClient(configuration: server.configuration()) { client in
            let subscriber = client.makeSubscriber()
            defer { subscriber.close() }
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await subscriber.subscribe(["x"]) }
            #expect(error?.code == .connectionFailed)
            #expect(secondsSince(start) < 2)
        }
    }

    @Test("AUTH and SELECT are sent on every (re)connect; the password never reaches the logs")
    func authAndSelect() async throws {
        let password = "t0p-secret-\(UUID().uuidString.prefix(6))"
        let server = try await PrivateRedisServer(arguments: ["--requirepass", password])
        let logs = LogCapture()

        var configuration = server.configuration(poolSize: 1)
        configuration.password = password
        configuration.database = 3
        try await TestRedis.withClient(configuration: configuration, logger: logs.logger()) { client in
            try await client.set("where", "db3")
            #expect(try await client.send("CLIENT", "INFO").string?.contains("db=3") == true)

            server.stop()
            try await server.start()
            try await eventually { try await client.ping() }
            // The new connection authenticated and selected database 3 again.
            #expect(try await client.send("CLIENT", "INFO").string?.contains("db=3") == true)
            try await client.set("where", "db3-again")
        }

        var zero = server.configuration(poolSize: 1)
        zero.password = password
        try await TestRedis.withClient(configuration: zero) { client throws in
            #expect(try await client.get("where") == nil, "database 0 must not see database 3's key")
        }

        var wrong = server.configuration(poolSize: 1)
        wrong.password = "wrong-\(password)"
        try await TestRedis.withClient(configuration: wrong, logger: logs.logger()) { client in
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(error?.code == .connectionFailed)
            #expect(error?.message.contains("AUTH") == true)
            #expect(error?.message.contains(password) == false)
        }

        let noPassword = server.configuration(poolSize: 1)
        try await TestRedis.withClient(configuration: noPassword) { client in
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(error?.code == .replyError)
            #expect(error?.message.contains("NOAUTH") == true)
        }
        server.stop()

        #expect(!logs.all.isEmpty)
        #expect(!logs.all.contains { $0.contains(password) }, "a log line contains the password")
    }
}
