import Foundation
import Hummingbird
import NIOCore
import TackCore

/// Strict JSON request bodies. Every write endpoint decodes its body with
/// `try await JSONBody.decode(CreateCard.self, from: request, context: context)`: the body is read
/// up to `context.maxUploadSize` (413 `body_too_large` beyond it, also when Content-Length says so);
/// a Content-Type other than JSON is 415; an empty body counts as `{}` (so the first required field
/// is named); anything but a JSON object is 400 `malformed_body`; a missing field, a wrong type,
/// `null` for a non-optional or a string holding U+0000 (PostgreSQL refuses it) is 400
/// `invalid_field` naming the field (`columns[2].name`); and so is any key the type did not read,
/// so a typo never passes silently. A field's key in the body is its Swift name in snake_case
/// (`JSONKeys`: `dueAt` reads `due_at`), so types declare no `CodingKeys` strings; `Date` fields take RFC 3339 (`2025-01-31T17:00:00Z`, fractions and offsets allowed; see `ISO8601Parsing`).
/// To tell an absent key from `null` (PATCH), decode with `contains(_:)` then `decodeNil(forKey:)`.
/// A type that reads a dictionary through `allKeys` (e.g. `[String: String]`) accepts every key
/// of that object. Business rules (lengths, ranges) stay in the endpoint: throw `APIError.invalid`.
public enum JSONBody {
    /// Decodes the request body as described on `JSONBody`.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await bytes(of: request, limit: context.maxUploadSize, tooLarge: .bodyTooLarge)
        return try decode(type, from: buffer.readableBytesView)
    }

    /// The body of a JSON request, read whole up to `limit` bytes: `tooLarge` (413) beyond it, also
    /// when Content-Length says so before anything is read; 415 for a Content-Type other than JSON.
    static func bytes(
        of request: Request,
        limit: Int,
        tooLarge: APIError,
        wrongType: String = "Send the body as UTF-8 JSON (Content-Type: application/json)."
    ) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw tooLarge
        }
        if let contentType = request.headers[.contentType], !isJSON(contentType) {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: wrongType)
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    /// Decodes bytes already read, with the same rules (used by `decode(_:from:context:)` and tests).
    public static func decode<T: Decodable>(_ type: T.Type, from data: some Collection<UInt8>) throws -> T {
        let root: Node
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            root = .object([:])
        } else {
            do {
                root = try StrictJSON.parse(data, limits: .messages)
            } catch {
                throw APIError.malformedBody("The body is not valid JSON: \(error).")
            }
        }
        guard case .object = root else { throw APIError.malformedBody("The body must be a JSON object.") }
        let ledger = KeyLedger()
        let value: T
        do {
            value = try T(from: NodeDecoder(node: root, codingPath: [], ledger: ledger))
        } catch let error as DecodingError {
            throw refusal(error)
        }
        if let unknown = ledger.firstUnread() {
            throw APIError.invalid(unknown, "\(unknown) is not a field of this request.")
        }
        return value
    }

    /// `application/json` or `application/*+json`; a `charset` parameter, if any, must be UTF-8 (JSON
    /// is UTF-8 only: RFC 8259 section 8.1).
    static func isJSON(_ contentType: String) -> Bool {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let media = parts.first, media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else {
            return false
        }
        return parts.dropFirst().allSatisfy { parameter in
            !parameter.hasPrefix("charset=") || parameter == "charset=utf-8" || parameter == "charset=\"utf-8\""
        }
    }

    /// A parsed JSON value.
    typealias Node = JSONValue
}

/// Which keys of each object in the body the decoded type read.
private final class KeyLedger {
    private struct Entry {
        var keys: Set<String>
        var read: Set<String> = []
        var readAll = false
    }

    private var entries: [String: Entry] = [:]

    func opened(_ path: String, keys: some Sequence<String>) {
        if entries[path] == nil { entries[path] = Entry(keys: Set(keys)) }
    }

    func read(_ path: String, _ key: String) { entries[path]?.read.insert(key) }

    func readAll(_ path: String) { entries[path]?.readAll = true }

    func readsAll(_ path: String) -> Bool { entries[path]?.readAll ?? false }

    /// The first key nobody read, as a field path; objects in path order, keys alphabetically.
    func firstUnread() -> String? {
        for path in entries.keys.sorted() {
            guard let entry = entries[path], !entry.readAll else { continue }
            if let key = entry.keys.subtracting(entry.read).sorted().first {
                return path.isEmpty ? key : path + "." + key
            }
        }
        return nil
    }
}

/// A 400 naming the field a decoded type tripped on.
private func refusal(_ error: DecodingError) -> APIError {
    switch error {
    case .keyNotFound(let key, let context):
        let field = fieldPath(context.codingPath + [key])
        return .invalid(field, "\(field) is required.")
    case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
        let field = fieldPath(context.codingPath)
        return .invalid(field, "\(field) must be \(describe(type)).")
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return .malformedBody("The body is not valid JSON.") }
        let field = fieldPath(context.codingPath)
        return .invalid(field, "\(field) has an invalid value.")
    @unknown default:
        return .malformedBody("The body could not be read.")
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Int.Type, is Int64.Type: return "an integer"
    case is Bool.Type: return "true or false"
    case is Double.Type: return "a number"
    default: return "of the documented type"
    }
}

/// `a.b[0].c`: how error answers name fields.
private func fieldPath(_ codingPath: [any CodingKey]) -> String {
    var text = ""
    for key in codingPath {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text
}

private struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ index: Int) {
        stringValue = String(index)
        intValue = index
    }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.init(intValue) }
}

/// A `Decoder` over a parsed `Node` that records every key the decoded type asks for.
private struct NodeDecoder: Decoder {
    typealias Node = JSONBody.Node
    let node: Node
    let codingPath: [any CodingKey]
    let ledger: KeyLedger
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = node else {
            throw mismatch([String: Any].self, node, codingPath)
        }
        let path = fieldPath(codingPath)
        ledger.opened(path, keys: object.keys)
        return KeyedDecodingContainer(KeyedContainer<Key>(object: object, path: path, codingPath: codingPath, ledger: ledger))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let array) = node else { throw mismatch([Any].self, node, codingPath) }
        return UnkeyedContainer(array: array, codingPath: codingPath, ledger: ledger)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath, ledger: ledger)
    }
}

private func mismatch(_ type: Any.Type, _ node: JSONBody.Node, _ codingPath: [any CodingKey]) -> DecodingError {
    if node == .null {
        return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "null"))
    }
    return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "wrong type"))
}

/// Converts one node to `T`: primitives here, everything else through `T(from:)`.
private func unbox<T: Decodable>(_ type: T.Type, _ node: JSONBody.Node, _ codingPath: [any CodingKey], _ ledger: KeyLedger) throws -> T {
    if type == String.self {
        guard case .string(let s) = node else { throw mismatch(type, node, codingPath) }
        guard !s.unicodeScalars.contains(where: { $0.value == 0 }) else {
            let field = fieldPath(codingPath)
            throw APIError.invalid(field, "\(field) must not contain NUL characters.")
        }
        return s as! T
    }
    if type == Bool.self {
        guard case .bool(let b) = node else { throw mismatch(type, node, codingPath) }
        return b as! T
    }
    if type == Date.self {
        let field = fieldPath(codingPath)
        guard case .string(let s) = node else {
            if node == .null { throw mismatch(type, node, codingPath) }
            throw APIError.invalid(field, "\(field) must be a date and time in ISO 8601, e.g. 2025-01-31T17:00:00Z.")
        }
        guard let date = parseISO8601(s) else {
            throw APIError.invalid(field, "\(field) must be a date and time in ISO 8601, e.g. 2025-01-31T17:00:00Z.")
        }
        return date as! T
    }
    if let integer = type as? any FixedWidthInteger.Type {
        return try unboxInteger(integer, node, codingPath) as! T
    }
    if let float = type as? any BinaryFloatingPoint.Type {
        return try unboxFloat(float, node, codingPath) as! T
    }
    return try T(from: NodeDecoder(node: node, codingPath: codingPath, ledger: ledger))
}

private func unboxInteger<I: FixedWidthInteger>(_ type: I.Type, _ node: JSONBody.Node, _ codingPath: [any CodingKey]) throws -> I {
    let value: I?
    switch node {
    case .integer(let i): value = I(exactly: i)
    case .double(let d): value = d.rounded() == d ? I(exactly: d) : nil
    default: throw mismatch(type, node, codingPath)
    }
    guard let value else {
        let field = fieldPath(codingPath)
        if case .double(let d) = node, d.rounded() != d { throw mismatch(type, node, codingPath) }
        throw APIError.invalid(field, "\(field) is out of range.")
    }
    return value
}

private func unboxFloat<F: BinaryFloatingPoint>(_ type: F.Type, _ node: JSONBody.Node, _ codingPath: [any CodingKey]) throws -> F {
    switch node {
    case .integer(let i): return F(i)
    case .double(let d): return F(d)
    default: throw mismatch(type, node, codingPath)
    }
}

private func parseISO8601(_ text: String) -> Date? {
    ISO8601Parsing.date(text)
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    typealias Node = JSONBody.Node
    let object: [String: Node]
    let path: String
    let codingPath: [any CodingKey]
    let ledger: KeyLedger

    var allKeys: [Key] {
        ledger.readAll(path)
        return object.keys.compactMap { Key(stringValue: $0) }
    }

    /// The key's name in the body: a field's snake_case name (`JSONKeys`), or the key itself when
    /// the type reads the object as a dictionary (its keys are data).
    private func name(_ key: Key) -> String {
        ledger.readsAll(path) ? key.stringValue : JSONKeys.snakeCase(key.stringValue)
    }

    /// The coding path of a key's value, spelled as the body spells it (field paths in errors).
    private func path(_ key: Key) -> [any CodingKey] {
        codingPath + [BodyKey(name(key))]
    }

    func contains(_ key: Key) -> Bool {
        let name = name(key)
        ledger.read(path, name)
        return object[name] != nil
    }

    private func node(_ key: Key) throws -> Node {
        let name = name(key)
        ledger.read(path, name)
        guard let node = object[name] else {
            throw DecodingError.keyNotFound(BodyKey(name), .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool { try node(key) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try unbox(type, try node(key), path(key), ledger)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try unbox(type, try node(key), path(key), ledger) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try unbox(type, try node(key), path(key), ledger) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: try node(key), codingPath: path(key), ledger: ledger).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: try node(key), codingPath: path(key), ledger: ledger).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        NodeDecoder(node: .object(object), codingPath: codingPath, ledger: ledger)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        let name = name(key)
        ledger.read(path, name)
        return NodeDecoder(node: object[name] ?? .null, codingPath: path(key), ledger: ledger)
    }
}

/// A key as the body spells it.
private struct BodyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    typealias Node = JSONBody.Node
    let array: [Node]
    let codingPath: [any CodingKey]
    let ledger: KeyLedger
    var currentIndex = 0

    init(array: [Node], codingPath: [any CodingKey], ledger: KeyLedger) {
        self.array = array
        self.codingPath = codingPath
        self.ledger = ledger
    }

    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    private mutating func next<T>(_ type: T.Type) throws -> (Node, [any CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [IndexKey(currentIndex)], debugDescription: "end of array"))
        }
        defer { currentIndex += 1 }
        return (array[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if array[currentIndex] == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next(type)
        return try unbox(type, node, path, ledger)
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: String.Type) throws -> String {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Int.Type) throws -> Int {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Int8.Type) throws -> Int8 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Int16.Type) throws -> Int16 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Int32.Type) throws -> Int32 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: Int64.Type) throws -> Int64 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: UInt.Type) throws -> UInt {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
        let (n, p) = try next(type)
        return try unbox(type, n, p, ledger)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next([String: Any].self)
        return try NodeDecoder(node: node, codingPath: path, ledger: ledger).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next([Any].self)
        return try NodeDecoder(node: node, codingPath: path, ledger: ledger).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = try next(Any.self)
        return NodeDecoder(node: node, codingPath: path, ledger: ledger)
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    typealias Node = JSONBody.Node
    let node: Node
    let codingPath: [any CodingKey]
    let ledger: KeyLedger

    func decodeNil() -> Bool { node == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(type, node, codingPath, ledger) }

    func decode(_ type: Bool.Type) throws -> Bool { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: String.Type) throws -> String { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Double.Type) throws -> Double { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Float.Type) throws -> Float { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Int.Type) throws -> Int { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Int8.Type) throws -> Int8 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Int16.Type) throws -> Int16 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Int32.Type) throws -> Int32 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: Int64.Type) throws -> Int64 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: UInt.Type) throws -> UInt { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try unbox(type, node, codingPath, ledger) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try unbox(type, node, codingPath, ledger) }
}
