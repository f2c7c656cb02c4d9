import Foundation
import TackRedis
import Testing

/// Streams and blocking reads on dedicated connections.
@Suite("Blocking connections and streams")
struct RedisBlockingTests {
    @Test("XGROUP CREATE twice gives a BUSYGROUP value; XREADGROUP BLOCK returns when an entry arrives")
    func streamsWithConsumerGroups() async throws {
        try await TestRedis.withClient { client in
            let stream = TestRedis.uniquePrefix() + "stream"
            #expect(try await client.send("XGROUP", "CREATE", stream, "workers", "$", "MKSTREAM") == .simpleString("OK"))
            let busy = try await client.send("XGROUP", "CREATE", stream, "workers", "$", "MKSTREAM")
            #expect(busy.errorMessage?.hasPrefix("BUSYGROUP") == true, "got \(busy)")

            let reply = try await withThrowingTaskGroup(of: RESPValue?.self) { group in
                group.addTask {
                    try await client.withBlockingConnection { connection in
                        try await connection.send(
                            ["XREADGROUP", "GROUP", "workers", "w1", "COUNT", 1, "BLOCK", 10_000, "STREAMS", stream, ">"],
                            timeout: .seconds(15)
                        )
                    }
                }
                group.addTask {
                    // Give the reader time to block, then produce one entry through the pool
                    // (which must not be held up by the blocked connection).
                    try await Task.sleep(for: .milliseconds(300))
                    _ = try await client.sendChecked("XADD", stream, "*", "job", "42")
                    return nil
                }
                var result: RESPValue?
                for try await value in group where value != nil { result = value }
                return result
            }
            // [[stream, [[id, [field, value]]]]]
            let entries = reply?.array?.first?.array?[1].array
            #expect(entries?.count == 1)
            #expect(entries?.first?.array?[1] == .array([.bulkString(Array("job".utf8)), .bulkString(Array("42".utf8))]))
        }
    }

    @Test("a BLOCK longer than the socket timeouts runs out with null and the connection stays usable")
    func blockTimesOutWithNull() async throws {
        // Socket and command timeouts far shorter than the BLOCK: a blocking read must not be
        // cut off by them (a socket timeout mid-read would kill the hiredis context).
        var configuration = try TestRedis.configuration()
        configuration.commandTimeout = .milliseconds(150)
        configuration.connectTimeout = .milliseconds(150)
        try await TestRedis.withClient(configuration: configuration) { client in
            let stream = TestRedis.uniquePrefix() + "stream"
            _ = try await client.sendChecked("XGROUP", "CREATE", stream, "g", "$", "MKSTREAM")
            try await client.withBlockingConnection { connection in
                let start = ContinuousClock.now
                let reply = try await connection.send(
                    ["XREADGROUP", "GROUP", "g", "c", "BLOCK", 700, "STREAMS", stream, ">"],
                    timeout: .seconds(5)
                )
                #expect(reply == .null)
                #expect(secondsSince(start) >= 0.65)
                // BLPOP uses the same path.
                #expect(try await connection.send("BLPOP", stream + ":list", 0.2, timeout: .seconds(5)) == .null)
                #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
            }
        }
    }

    @Test("cancelling the caller ends an endless BLOCK promptly")
    func cancellationEndsBlockingRead() async throws {
        try await TestRedis.withClient { client in
            let list = TestRedis.uniquePrefix() + "never"
            let reader = Task {
                try await client.withBlockingConnection { connection in
                    try await connection.send(["BLPOP", list, 0])  // 0 = wait forever
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            reader.cancel()
            let result = await reader.result
            #expect(secondsSince(start) < 1.5, "cancellation took \(secondsSince(start)) s")
            #expect(throws: CancellationError.self) { try result.get() }
            // The pool is unaffected.
            try await client.ping()
        }
    }

    @Test("a client-side timeout on a blocking call throws timeout, then the connection reconnects")
    func blockingTimeout() async throws {
        try await TestRedis.withClient { client in
            let list = TestRedis.uniquePrefix() + "never"
            try await client.withBlockingConnection { connection throws in
                let error = await #expect(throws: RedisError.self) {
                    _ = try await connection.send(["BLPOP", list, 0], timeout: .milliseconds(200))
                }
                #expect(error?.code == .timeout)
                #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
            }
        }
    }

    @Test("shutdown ends a blocking read in progress with poolShutdown")
    func shutdownEndsBlockingRead() async throws {
        let client = RedisClient(configuration: try TestRedis.configuration(), logger: TestRedis.logger)
        let list = TestRedis.uniquePrefix() + "never"
        let reader = Task {
            try await client.withBlockingConnection { connection in
                try await connection.send(["BLPOP", list, 0])
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        client.shutdown()
        let result = await reader.result
        try await client.run()  // joins every thread, including the blocking connection's
        #expect(secondsSince(start) < 2)
        #expect(throws: RedisError.self) { try result.get() }
        if case .failure(let error as RedisError) = result { #expect(error.code == .poolShutdown) }
    }
}
