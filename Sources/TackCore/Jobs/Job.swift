import Foundation

/// One unit of background work as a worker receives it.
///
/// `id` stays the same across retries and re-deliveries, so handlers key their side effects on it
/// (or on a domain key such as event + webhook) to stay idempotent: delivery is at least once.
public struct Job: Sendable, Equatable {
    /// Stable identity across retries.
    public let id: String
    /// What to do, as `category.name` (e.g. `webhooks.deliver`); the category picks the queue.
    public let kind: String
    /// JSON arguments.
    public let payload: [UInt8]
    /// Which attempt this run is, from 1.
    public let attempt: Int
    /// When the job was first enqueued, in milliseconds since 1970.
    public let enqueuedAt: Int64
    /// The error of the previous attempt, if this is a retry.
    public let lastError: String?

    /// Creates a job (the queue does this when reading).
    public init(id: String, kind: String, payload: [UInt8], attempt: Int, enqueuedAt: Int64, lastError: String?) {
        self.id = id
        self.kind = kind
        self.payload = payload
        self.attempt = attempt
        self.enqueuedAt = enqueuedAt
        self.lastError = lastError
    }

    /// The payload decoded as `T`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JobCoding.decoder.decode(T.self, from: Data(payload))
        } catch {
            throw JobFailure.permanent("the payload of \(kind) job \(id) is not valid: \(error)")
        }
    }

    /// The job's fields as stored in a queue stream entry.
    var streamFields: [String] {
        var fields = [
            "id", id, "kind", kind, "attempt", String(attempt), "enqueued", String(enqueuedAt),
            "payload", String(decoding: payload, as: UTF8.self),
        ]
        if let lastError { fields += ["error", lastError] }
        return fields
    }

    /// Rebuilds a job from stream entry fields; nil when required fields are missing.
    init?(fields: [String: String]) {
        guard let id = fields["id"], let kind = fields["kind"], let attempt = fields["attempt"].flatMap(Int.init),
            let enqueued = fields["enqueued"].flatMap(Int64.init), let payload = fields["payload"]
        else { return nil }
        self.init(id: id, kind: kind, payload: Array(payload.utf8), attempt: attempt, enqueuedAt: enqueued, lastError: fields["error"])
    }

    /// The category of a kind: the part before the first dot.
    public static func category(of kind: String) -> String {
        kind.split(separator: ".", maxSplits: 1).first.map(String.init) ?? kind
    }
}

/// A job to enqueue.
public struct NewJob: Sendable {
    /// `category.name`; the category must be one of `ConfigSchema.jobKinds`.
    public var kind: String
    /// JSON arguments.
    public var payload: [UInt8]
    /// The job's identity; random unless the caller has a natural one.
    public var id: String

    /// A job with a raw JSON payload.
    public init(kind: String, payload: [UInt8] = Array("{}".utf8), id: String? = nil) {
        self.kind = kind
        self.payload = payload
        self.id = id ?? NewJob.randomID()
    }

    /// A job whose payload is `arguments` encoded as JSON.
    public init(kind: String, arguments: some Encodable, id: String? = nil) throws {
        self.init(kind: kind, payload: Array(try JobCoding.encoder.encode(arguments)), id: id)
    }

    /// 16 random bytes as 32 hex characters.
    public static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// How a job failed, when the handler knows better than "retry later".
public struct JobFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong, kept with the job (dead letters, logs); never secrets.
    public let message: String
    /// True when retrying cannot help: the job goes to the dead-letter stream at once.
    public let isPermanent: Bool
    /// When the next attempt should run, if the handler knows (a `Retry-After`).
    public let retryAfter: Duration?

    /// A failure that retrying cannot fix.
    public static func permanent(_ message: String) -> JobFailure {
        JobFailure(message: message, isPermanent: true, retryAfter: nil)
    }

    /// A failure worth retrying, optionally not before `after`.
    public static func retry(_ message: String, after: Duration? = nil) -> JobFailure {
        JobFailure(message: message, isPermanent: false, retryAfter: after)
    }

    public var description: String { message }
}

/// The JSON coding of job payloads: property names as keys (no case conversion, which would not
/// round-trip names such as `exportID`), sorted for stable output.
public enum JobCoding {
    /// Encoder.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Decoder.
    public static let decoder = JSONDecoder()
}
