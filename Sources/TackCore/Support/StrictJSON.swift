/// A parsed JSON value, as `StrictJSON` produces it.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The value as compact JSON text (object keys sorted, so equal values print equally).
    public var serialized: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .string(let s): out += StrictJSON.quote(s)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += StrictJSON.quote(key)
                out += ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }
}

extension JSONValue: Encodable {
    /// Encodes the value as it is, to embed stored JSON in a response.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// A strict RFC 8259 parser for JSON from outside: request bodies and push messages.
///
/// It reads the bytes once, left to right, and refuses as soon as it can, so its cost is linear in
/// the input and bounded by `Limits` whatever the input's shape (Foundation's decoder spends time
/// that grows with the square of the nesting depth before refusing a deep document). Refused:
/// anything but UTF-8 (a byte order mark included), trailing commas, duplicate keys, control
/// characters in strings, lone surrogates, leading zeros, `NaN`/`Infinity`, content after the value,
/// nesting deeper than `Limits.depth` and more than `Limits.values` values.
public enum StrictJSON {
    /// What a document may hold.
    public struct Limits: Sendable {
        /// Arrays and objects open at once.
        public var depth: Int
        /// Values in the whole document (every string, number, literal, array and object counts).
        public var values: Int

        /// Creates limits.
        public init(depth: Int, values: Int) {
            self.depth = depth
            self.values = values
        }

        /// Request bodies and push messages: flat objects with a few short lists.
        public static let messages = Limits(depth: 32, values: 10_000)
        /// JSON Tack wrote itself (event and notification payloads read back from PostgreSQL).
        public static let stored = Limits(depth: 64, values: 10_000_000)
    }

    /// Why a document was refused, and where (a byte offset).
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        /// What is wrong, for a person: "duplicate key \"name\"".
        public let reason: String
        /// Offset of the byte where the parser stopped.
        public let offset: Int

        /// `reason at byte offset`.
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Parses one JSON document.
    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = .messages) throws(ParseError) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable { buffer -> Result<JSONValue, ParseError> in
            parse(buffer: UnsafeRawBufferPointer(buffer), limits: limits)
        }
        switch result ?? Array(bytes).withUnsafeBytes({ parse(buffer: $0, limits: limits) }) {
        case .success(let value): return value
        case .failure(let error): throw error
        }
    }

    /// Parses one JSON document held in a string.
    public static func parse(_ text: String, limits: Limits = .messages) throws(ParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { parse(buffer: UnsafeRawBufferPointer($0), limits: limits) }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw error
        }
    }

    private static func parse(buffer: UnsafeRawBufferPointer, limits: Limits) -> Result<JSONValue, ParseError> {
        var parser = Parser(bytes: buffer, limits: limits)
        do throws(ParseError) {
            if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF {
                throw ParseError(reason: "a byte order mark is not allowed", offset: 0)
            }
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw parser.error("unexpected content after the value") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    /// `s` as a JSON string literal.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The parser's state: a cursor over the bytes and the count of values seen.
private struct Parser {
    typealias ParseError = StrictJSON.ParseError
    let bytes: UnsafeRawBufferPointer
    let limits: StrictJSON.Limits
    var index = 0
    var values = 0
    /// Scratch space for strings with escapes, reused across strings.
    var scratch: [UInt8] = []

    init(bytes: UnsafeRawBufferPointer, limits: StrictJSON.Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    func error(_ reason: String) -> ParseError { ParseError(reason: reason, offset: index) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(ParseError) -> JSONValue {
        values += 1
        guard values <= limits.values else { throw error("more than \(limits.values) values") }
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(ParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end of input") }
        for i in 0..<count where bytes[index + i] != word.utf8Start[i] { throw error("unexpected character") }
        index += count
    }

    mutating func object(depth: Int) throws(ParseError) -> JSONValue {
        guard depth <= limits.depth else { throw error("nested deeper than \(limits.depth) levels") }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
            let keyStart = index
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            index += 1
            skipWhitespace()
            let value = try value(depth: depth)
            guard members.updateValue(value, forKey: key) == nil else {
                throw ParseError(reason: "duplicate key \(StrictJSON.quote(key))", offset: keyStart)
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default: throw error("expected ',' or '}'")
            }
        }
    }

    mutating func array(depth: Int) throws(ParseError) -> JSONValue {
        guard depth <= limits.depth else { throw error("nested deeper than \(limits.depth) levels") }
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(items)
            default: throw error("expected ',' or ']'")
            }
        }
    }

    /// A string starting at the opening quote. Bytes are copied as they are when there is no
    /// escape; the result must be valid UTF-8 either way.
    mutating func string() throws(ParseError) -> String {
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                break
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 2
            } else if byte < 0x20 {
                throw error("a control character in a string must be escaped")
            } else {
                index += 1
            }
        }
        guard index < bytes.count else { throw ParseError(reason: "unterminated string", offset: start - 1) }
        let end = index
        index += 1
        if !escaped {
            return try utf8(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), at: start)
        }
        scratch.removeAll(keepingCapacity: true)
        var i = start
        while i < end {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                scratch.append(byte)
                i += 1
                continue
            }
            i += 1
            switch bytes[i] {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: i + 1, end: end)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 2 < end, bytes[i + 1] == UInt8(ascii: "\\"), bytes[i + 2] == UInt8(ascii: "u") else {
                        throw ParseError(reason: "a lone surrogate in \\u escapes", offset: i)
                    }
                    let low = try hex4(at: i + 3, end: end)
                    guard (0xDC00...0xDFFF).contains(low) else { throw ParseError(reason: "a lone surrogate in \\u escapes", offset: i) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw ParseError(reason: "a lone surrogate in \\u escapes", offset: i)
                }
                scratch.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
            default:
                throw ParseError(reason: "unknown escape", offset: i)
            }
            i += 1
        }
        let text = scratch.withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) }
        guard let text else { throw ParseError(reason: "a string that is not UTF-8", offset: start) }
        return text
    }

    func hex4(at position: Int, end: Int) throws(ParseError) -> UInt32 {
        guard position + 4 <= end else { throw ParseError(reason: "a \\u escape needs four hex digits", offset: position) }
        var value: UInt32 = 0
        for i in position..<position + 4 {
            let byte = bytes[i]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw ParseError(reason: "a \\u escape needs four hex digits", offset: i)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    func utf8(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) -> String {
        guard let text = String(validating: buffer.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw ParseError(reason: "a string that is not UTF-8", offset: offset)
        }
        return text
    }

    /// Numbers are at most 64 bytes long: nothing Tack reads needs more, and it keeps the cost of
    /// converting one bounded.
    mutating func number() throws(ParseError) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("a number needs digits") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error("a number must not start with 0") }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("a fraction needs digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("an exponent needs digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        guard index - start <= 64 else { throw ParseError(reason: "a number longer than 64 characters", offset: start) }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let integer = Int64(text) { return .integer(integer) }
        guard let double = Double(text), double.isFinite else { throw ParseError(reason: "a number out of range", offset: start) }
        return .double(double)
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
