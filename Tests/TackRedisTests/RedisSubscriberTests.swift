import Foundation
import TackRedis
import Testing

/// Pub/sub through RedisSubscriber.
@Suite("RedisSubscriber")
struct RedisSubscriberTests {
    @Test("subscribe, receive, unsubscribe, subscribe again")
    func subscribeReceiveUnsubscribe() async throws {
        try await TestRedis.withClient { client in
            let prefix = TestRedis.uniquePrefix()
            let subscriber = client.makeSubscriber()
            defer { subscriber.close() }
            var messages = subscriber.messages.makeAsyncIterator()

            try await subscriber.subscribe([prefix + "a", prefix + "b"])
            #expect(try await client.send("PUBLISH", prefix + "a", [0, 1, 2, 255] as [UInt8]) == .integer(1))
            #expect(try await client.send("PUBLISH", prefix + "b", "hello") == .integer(1))
            let first = await messages.next()
            #expect(first?.channel == prefix + "a")
            #expect(first?.payload == [0, 1, 2, 255])
            let second = await messages.next()
            #expect(second?.channel == prefix + "b")
            #expect(second?.payload == Array("hello".utf8))

            try await subscriber.unsubscribe([prefix + "a"])
            #expect(try await client.send("PUBLISH", prefix + "a", "lost") == .integer(0))
            try await subscriber.subscribe([prefix + "a"])
            #expect(try await client.send("PUBLISH", prefix + "a", "again") == .integer(1))
            let third = await messages.next()
            #expect(third?.channel == prefix + "a")
            #expect(third?.payload == Array("again".utf8))

            subscriber.close()
            #expect(await messages.next() == nil, "closing ends the stream")
            let error = await #expect(throws: RedisError.self) { try await subscriber.subscribe([prefix + "c"]) }
            #expect(error?.code == .connectionClosed)
        }
    }

    @Test("the client's shutdown closes its subscribers")
    func shutdownClosesSubscribers() async throws {
        let client = RedisClient(configuration: try TestRedis.configuration(), logger: TestRedis.logger)
        let subscriber = client.makeSubscriber()
        try await subscriber.subscribe([TestRedis.uniquePrefix() + "x"])
        client.shutdown()
        var messages = subscriber.messages.makeAsyncIterator()
        #expect(await messages.next() == nil)
        try await client.run()
    }
}
