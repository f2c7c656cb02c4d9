import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One hiredis connection: a `redisContext*` plus the few operations Tack needs.
///
/// Not thread-safe and deliberately not `Sendable`: exactly one connection thread creates, uses
/// and frees each context. hiredis performs blocking socket I/O, which must never happen on
/// NIO's event loops or Swift's cooperative pool.
///
/// Once hiredis reports an I/O or protocol error the context is unusable (`context->err` stays
/// set), so every failure here is thrown and the owner frees the context and reconnects.
final class HiredisContext {
    private let context: UnsafeMutablePointer<redisContext>
    /// `host:port`, for error messages.
    let address: String

    private init(context: UnsafeMutablePointer<redisContext>, address: String) {
        self.context = context
        self.address = address
    }

    deinit {
        redisFree(context)
    }

    /// The socket, for poll().
    var fileDescriptor: Int32 { context.pointee.fd }

    /// Connects, sets the socket timeout, then authenticates and selects the database.
    ///
    /// - Parameters:
    ///   - socketTimeoutMs: SO_SNDTIMEO/SO_RCVTIMEO after connecting; 0 for none. Reads are
    ///     guarded by poll(), so this bounds writes to a server that stopped reading.
    ///   - keepAlive: enable TCP keepalive (for connections that stay silent for long).
    static func connect(
        host: String,
        port: Int,
        password: String?,
        database: Int,
        connectTimeoutMs: Int,
        socketTimeoutMs: Int,
        keepAlive: Bool = false,
        clientName: String? = nil,
        checkRole: Bool = false
    ) throws(RedisError) -> HiredisContext {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let raw = tack_redis_connect(host, Int32(port), connectTimeoutMs) else {
            throw RedisError(.connectionFailed, "connection to \(address) failed: out of memory")
        }
        if raw.pointee.err != 0 {
            let reason = Self.errorString(raw)
            redisFree(raw)
            throw RedisError(.connectionFailed, "connection to \(address) failed: \(reason)")
        }
        let connection = HiredisContext(context: raw, address: address)
        _ = tack_redis_set_timeout(raw, socketTimeoutMs)
        if keepAlive {
            // Blocking and pub/sub connections can sit silent for minutes; keepalive probes
            // notice a peer that vanished without closing the socket.
            _ = redisEnableKeepAlive(raw)
        }

        // AUTH, SELECT, CLIENT SETNAME and ROLE go out as one pipeline; every reply is checked so
        // a wrong password or database index surfaces as a clear connection failure instead of
        // later NOAUTH errors, and (with Sentinel) a server that is not the master is refused.
        var encoder = RESPCommandEncoder()
        var commands: [String] = []
        if let password {
            encoder.appendCommand(["AUTH", password])
            commands.append("AUTH")
        }
        if database != 0 {
            encoder.appendCommand(["SELECT", database])
            commands.append("SELECT \(database)")
        }
        if let clientName {
            encoder.appendCommand(["CLIENT", "SETNAME", clientName])
            commands.append("CLIENT SETNAME")
        }
        if checkRole {
            encoder.appendCommand(["ROLE"])
            commands.append("ROLE")
        }
        if !commands.isEmpty {
            do {
                try connection.append(encoder.bytes)
                try connection.flush()
                let deadline = Monotonic.now() &+ UInt64(connectTimeoutMs) * 1_000_000
                for command in commands {
                    let reply = try connection.readReply(deadline: deadline, spinNanoseconds: 0, shouldAbort: { nil })
                    if case .error(let message) = reply {
                        // Name the command, never its argument.
                        throw RedisError(.connectionFailed, "connection to \(address) failed: \(command) rejected: \(message)")
                    }
                    if command == "ROLE" {
                        let role: String? = {
                            guard case .array(let parts) = reply else { return nil }
                            return parts.first?.string
                        }()
                        if role != "master" {
                            throw RedisError(.noMaster, "\(address) is not the master (ROLE says \(role ?? "nothing"))")
                        }
                    }
                }
            } catch let error as RedisError {
                throw error.code == .connectionFailed || error.code == .noMaster
                    ? error : RedisError(.connectionFailed, "connection to \(address) failed: \(error.message)")
            } catch {
                throw RedisError(.connectionFailed, "connection to \(address) failed: \(error)")
            }
        }
        return connection
    }

    /// Sends one command and waits for its reply (for short exchanges on a fresh context, such
    /// as asking a sentinel; pooled traffic goes through `append`/`flush`/`readReply`).
    func roundTrip(_ command: [any RedisArgumentConvertible], deadline: UInt64) throws -> RESPValue {
        var encoder = RESPCommandEncoder()
        encoder.appendCommand(command)
        try append(encoder.bytes)
        try flush()
        return try readReply(deadline: deadline, spinNanoseconds: 0, shouldAbort: { nil })
    }

    /// Copies already encoded commands into hiredis' output buffer (nothing is written yet).
    func append(_ bytes: [UInt8]) throws(RedisError) {
        let status = bytes.withUnsafeBytes { tack_redis_append_formatted(context, $0.baseAddress, $0.count) }
        guard status == REDIS_OK else { throw failure(.connectionClosed, doing: "buffering a command") }
    }

    /// Writes everything buffered: one write() for a whole pipeline in the common case.
    func flush() throws(RedisError) {
        guard tack_redis_flush(context) == REDIS_OK else {
            let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
            throw failure(timedOut ? .timeout : .connectionClosed, doing: "writing")
        }
    }

    /// Returns the next reply, waiting for it with poll() so that a silent server, an
    /// abandoned wait (cancellation, shutdown) or a deadline never leaves the thread stuck in
    /// read(). Waits in slices of at most 100 ms and asks `shouldAbort` after each slice.
    ///
    /// - Parameters:
    ///   - deadline: monotonic nanoseconds after which ``RedisError/Code/timeout`` is thrown;
    ///     `UInt64.max` for none.
    ///   - spinNanoseconds: how long to re-check the socket without sleeping before the first
    ///     poll() that may sleep. A round trip on loopback is tens of microseconds; spinning
    ///     through it saves the wake-up latency of a sleeping thread.
    ///   - shouldAbort: returns an error to stop waiting (the connection must then be dropped,
    ///     since the reply may still arrive later).
    func readReply(
        deadline: UInt64,
        spinNanoseconds: UInt64,
        shouldAbort: () -> (any Error)?
    ) throws -> RESPValue {
        var spinUntil: UInt64 = 0
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(context, &raw) == REDIS_OK else {
                throw failure(.protocolError, doing: "parsing a reply")
            }
            if let raw {
                let reply = raw.assumingMemoryBound(to: redisReply.self)
                let value = RESPValue(copying: reply)
                freeReplyObject(raw)  // frees the whole tree; elements are never freed separately
                return value
            }
            try waitReadable(deadline: deadline, spinNanoseconds: spinNanoseconds, spinUntil: &spinUntil, shouldAbort: shouldAbort)
            guard redisBufferRead(context) == REDIS_OK else {
                throw failure(.connectionClosed, doing: "reading")
            }
        }
    }

    /// Parses and returns a reply already in the read buffer, without touching the socket.
    func bufferedReply() throws(RedisError) -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else {
            throw failure(.protocolError, doing: "parsing a reply")
        }
        guard let raw else { return nil }
        let value = RESPValue(copying: raw.assumingMemoryBound(to: redisReply.self))
        freeReplyObject(raw)
        return value
    }

    /// Reads whatever the socket has (one read(); call only when poll() said readable).
    func readAvailable() throws(RedisError) {
        guard redisBufferRead(context) == REDIS_OK else {
            throw failure(.connectionClosed, doing: "reading")
        }
    }

    private func waitReadable(
        deadline: UInt64,
        spinNanoseconds: UInt64,
        spinUntil: inout UInt64,
        shouldAbort: () -> (any Error)?
    ) throws {
        let fd = context.pointee.fd
        if spinNanoseconds > 0 {
            if spinUntil == 0 { spinUntil = Monotonic.now() &+ spinNanoseconds }
            while Monotonic.now() < spinUntil {
                if tack_poll_readable(fd, 0) != 0 { return }
            }
        }
        while true {
            let now = Monotonic.now()
            if now >= deadline {
                throw RedisError(.timeout, "no reply from \(address) within the timeout")
            }
            let remainingMs = (deadline - now) / 1_000_000 + 1  // round up; no overflow with deadline == .max
            let sliceMs = Int32(min(remainingMs, 100))
            switch tack_poll_readable(fd, sliceMs) {
            case 1:
                return
            case 0:
                if let error = shouldAbort() { throw error }
            default:
                throw RedisError(.connectionClosed, "poll() on the connection to \(address) failed: errno \(errno)")
            }
        }
    }

    private func failure(_ code: RedisError.Code, doing what: String) -> RedisError {
        RedisError(code, "connection to \(address) failed while \(what): \(Self.errorString(context))")
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: &context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

extension RESPValue {
    /// Copies a hiredis reply tree into Swift values; the caller then frees the C tree once,
    /// from the top.
    init(copying reply: UnsafePointer<redisReply>) {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            self = .bulkString(node.len == 0 ? [] : Array(UnsafeRawBufferPointer(start: node.str, count: node.len)))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int(node.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_STATUS:
            self = .simpleString(String(decoding: UnsafeRawBufferPointer(start: node.str, count: node.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: UnsafeRawBufferPointer(start: node.str, count: node.len), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                if let child = tack_reply_element(reply, index) {
                    elements.append(RESPValue(copying: child))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        default:
            self = .error("ERR unknown hiredis reply type \(node.type)")
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: cheap (vDSO) and immune to wall-clock jumps, for deadlines
/// computed on connection threads.
enum Monotonic {
    /// Now, in nanoseconds since an arbitrary point (boot).
    @inline(__always)
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Nanoseconds in a Duration, saturating; negative durations count as zero.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max / 2 }
        return whole &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// Milliseconds in a Duration, rounded up, for APIs that take milliseconds.
    static func milliseconds(_ duration: Duration) -> Int {
        Int(min((nanoseconds(duration) + 999_999) / 1_000_000, UInt64(Int32.max)))
    }
}
