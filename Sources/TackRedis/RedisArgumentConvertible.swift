/// Something that can be sent as one command argument. Arguments travel as raw bytes, so values
/// are binary-safe: `[UInt8]` goes out untouched, strings as UTF-8, numbers in decimal.
public protocol RedisArgumentConvertible: Sendable {
    /// The bytes Redis receives for this argument.
    var redisArgument: [UInt8] { get }

    /// Appends this argument to a command being encoded. The default goes through
    /// ``redisArgument``; the standard conformances override it to skip that intermediate array,
    /// which matters on the hot path (every GET/SET encodes its key this way).
    func appendRedisArgument(to encoder: inout RESPCommandEncoder)
}

extension RedisArgumentConvertible {
    /// Encodes ``redisArgument`` as one bulk string.
    public func appendRedisArgument(to encoder: inout RESPCommandEncoder) {
        encoder.appendBulk(redisArgument)
    }
}

extension String: RedisArgumentConvertible {
    /// The UTF-8 bytes of the string.
    public var redisArgument: [UInt8] { Array(utf8) }

    /// Copies the UTF-8 straight into the command buffer.
    public func appendRedisArgument(to encoder: inout RESPCommandEncoder) {
        var copy = self
        copy.withUTF8 { encoder.appendBulk(UnsafeRawBufferPointer($0)) }
    }
}

extension Substring: RedisArgumentConvertible {
    /// The UTF-8 bytes of the substring.
    public var redisArgument: [UInt8] { Array(utf8) }

    /// Copies the UTF-8 straight into the command buffer.
    public func appendRedisArgument(to encoder: inout RESPCommandEncoder) {
        var copy = self
        copy.withUTF8 { encoder.appendBulk(UnsafeRawBufferPointer($0)) }
    }
}

extension Int: RedisArgumentConvertible {
    /// The decimal representation, as Redis expects for counts, TTLs and IDs.
    public var redisArgument: [UInt8] { Array(String(self).utf8) }

    /// Writes the decimal digits without building a String.
    public func appendRedisArgument(to encoder: inout RESPCommandEncoder) {
        encoder.appendBulkDecimal(Int64(self))
    }
}

extension Int64: RedisArgumentConvertible {
    /// The decimal representation.
    public var redisArgument: [UInt8] { Array(String(self).utf8) }

    /// Writes the decimal digits without building a String.
    public func appendRedisArgument(to encoder: inout RESPCommandEncoder) {
        encoder.appendBulkDecimal(self)
    }
}

extension UInt64: RedisArgumentConvertible {
    /// The decimal representation.
    public var redisArgument: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgumentConvertible {
    /// Swift's shortest round-tripping decimal form (`1.5`, `1e-05`), which Redis parses for
    /// INCRBYFLOAT and ZADD scores; infinities become `+inf`/`-inf` as Redis spells them.
    public var redisArgument: [UInt8] {
        if self == .infinity { return Array("+inf".utf8) }
        if self == -.infinity { return Array("-inf".utf8) }
        return Array(description.utf8)
    }
}

extension Array: RedisArgumentConvertible where Element == UInt8 {
    /// The bytes themselves: binary values go out unchanged.
    public var redisArgument: [UInt8] { self }

    /// Copies the bytes into the command buffer.
    public func appendRedisArgument(to encoder: inout RESPCommandEncoder) {
        withUnsafeBytes { encoder.appendBulk($0) }
    }
}

/// Builds the RESP wire form of commands (`*<n>\r\n$<len>\r\n<bytes>\r\n…`).
///
/// Commands are encoded on the caller's task, not on the connection thread, so that with many
/// callers the encoding work is spread over all cores and the connection thread only copies
/// finished bytes into hiredis' output buffer.
public struct RESPCommandEncoder: Sendable {
    /// The encoded bytes so far.
    public private(set) var bytes: [UInt8]

    /// Starts an empty buffer with room for `capacity` bytes.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Encodes one whole command.
    public mutating func appendCommand(_ arguments: [any RedisArgumentConvertible]) {
        appendHeader(UInt8(ascii: "*"), Int64(arguments.count))
        for argument in arguments {
            argument.appendRedisArgument(to: &self)
        }
    }

    /// Appends one bulk string argument.
    public mutating func appendBulk(_ raw: UnsafeRawBufferPointer) {
        appendHeader(UInt8(ascii: "$"), Int64(raw.count))
        bytes.append(contentsOf: raw)
        bytes.append(13)
        bytes.append(10)
    }

    /// Appends one bulk string argument.
    public mutating func appendBulk(_ raw: [UInt8]) {
        raw.withUnsafeBytes { appendBulk($0) }
    }

    /// Appends an integer as a bulk string of its decimal digits.
    public mutating func appendBulkDecimal(_ value: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for "-9223372036854775808"
        let count = withUnsafeMutableBytes(of: &digits) { buffer in
            Self.writeDecimal(value, into: buffer)
        }
        withUnsafeBytes(of: &digits) { buffer in
            appendBulk(UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    private mutating func appendHeader(_ marker: UInt8, _ value: Int64) {
        bytes.append(marker)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &digits) { buffer in
            Self.writeDecimal(value, into: buffer)
        }
        withUnsafeBytes(of: &digits) { buffer in
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
        bytes.append(13)
        bytes.append(10)
    }

    /// Writes `value` right-aligned at the end of `buffer`; returns the number of bytes written.
    private static func writeDecimal(_ value: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = value.magnitude
        var index = buffer.count
        repeat {
            index -= 1
            buffer[index] = UInt8(truncatingIfNeeded: magnitude % 10) + UInt8(ascii: "0")
            magnitude /= 10
        } while magnitude != 0
        if value < 0 {
            index -= 1
            buffer[index] = UInt8(ascii: "-")
        }
        return buffer.count - index
    }
}
