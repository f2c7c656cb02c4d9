/// A connection of its own for commands that block (`XREADGROUP … BLOCK`, `BLPOP`), handed out
/// by ``RedisClient/withBlockingConnection(_:)`` and valid only inside that closure.
///
/// It has its own thread, no pool command timeout, and waits for replies with poll() in short
/// slices, so a long `BLOCK` neither trips a socket timeout (which would kill the hiredis
/// context) nor keeps the thread deaf to cancellation and shutdown. Commands run one at a time;
/// after a failure the next command reconnects (with the pool's backoff rules).
public final class RedisBlockingConnection: Sendable {
    private let connection: RedisConnection

    /// Wraps a dedicated connection owned by `withBlockingConnection`.
    init(connection: RedisConnection) {
        self.connection = connection
    }

    /// Sends one command and waits for its reply.
    ///
    /// - Parameters:
    ///   - command: the command and its arguments.
    ///   - timeout: a client-side limit, e.g. a little longer than the command's own `BLOCK`
    ///     argument; `nil` waits as long as Redis takes. When it expires the connection is
    ///     dropped (the late reply would desynchronise it) and ``RedisError/Code/timeout`` is thrown.
    /// - Returns: the reply; a `BLOCK` that ran out returns ``RESPValue/null``. Error replies
    ///   are values, as with ``RedisClient``.
    /// - Throws: `CancellationError` promptly when the calling task is cancelled (the connection
    ///   is dropped), ``RedisError/Code/poolShutdown`` when the client shuts down meanwhile, or a
    ///   connection error.
    public func send(_ command: [any RedisArgumentConvertible], timeout: Duration? = nil) async throws -> RESPValue {
        try Task.checkCancellation()
        var encoder = RESPCommandEncoder()
        encoder.appendCommand(command)
        let payload = encoder.bytes
        let timeoutNanoseconds = timeout.map { Monotonic.nanoseconds($0) } ?? .max
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RESPValue, any Error>) in
                connection.enqueue(
                    PendingRequest(
                        payload: payload,
                        replyCount: 1,
                        waiter: .one(continuation),
                        timeoutNanoseconds: timeoutNanoseconds,
                        cancellation: flag
                    )
                )
            }
        } onCancel: {
            flag.set()
        }
    }

    /// Variadic form: `send("BLPOP", key, 5, timeout: .seconds(6))`.
    public func send(_ command: any RedisArgumentConvertible..., timeout: Duration? = nil) async throws -> RESPValue {
        try await send(command, timeout: timeout)
    }
}
