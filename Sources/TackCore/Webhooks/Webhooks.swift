import Crypto
import Foundation
import Logging
import PostgresNIO

/// A board's outgoing webhook as its admins see it (the secret is shown only when created).
public struct Webhook: Sendable, Codable, Equatable {
    public var id: Int64
    public var boardID: Int64
    public var url: String
    /// Event kinds delivered; empty means all.
    public var events: [String]
    public var active: Bool
    public var createdBy: Int64?
    public var createdAt: Date
    /// Deliveries in a row that ended failed.
    public var failuresInRow: Int
    /// Why it was disabled automatically, if it was.
    public var disabledReason: String?
    public var disabledAt: Date?

}

/// One delivery of one event to one webhook, with its attempts.
public struct WebhookDeliveryRecord: Sendable, Codable, Equatable {
    /// One HTTP attempt.
    public struct Attempt: Sendable, Codable, Equatable {
        public var attempt: Int
        public var at: Date
        public var statusCode: Int?
        public var latencyMS: Int
        public var error: String?

    }

    /// Stable across retries; sent as `X-Tack-Delivery`.
    public var id: String
    public var eventVersion: Int64
    public var eventKind: String
    /// pending, succeeded or failed.
    public var status: String
    public var attempts: [Attempt]
    public var createdAt: Date
    public var finishedAt: Date?

}

/// Signing of webhook deliveries: `X-Tack-Signature: v1=<hex HMAC-SHA256(secret, id.timestamp.body)>`.
public enum WebhookSignature {
    /// The `X-Tack-Signature` value for one delivery attempt: hex HMAC-SHA256 under the secret's
    /// UTF-8 bytes.
    public static func sign(secret: String, deliveryID: String, timestamp: Int64, body: [UInt8]) -> String {
        "v1=" + mac(key: Array(secret.utf8), deliveryID: deliveryID, timestamp: timestamp, body: body).map { String(format: "%02x", $0) }.joined()
    }

    /// The `webhook-signature` value of the Standard Webhooks spec (standardwebhooks.com) for the
    /// same attempt (`webhook-id` is the delivery id): `v1,` and base64 HMAC-SHA256 of the same
    /// `id.timestamp.body` under the key of ``standardSecret(for:)``.
    public static func signStandard(secret: String, deliveryID: String, timestamp: Int64, body: [UInt8]) -> String {
        "v1," + Data(mac(key: standardKey(secret), deliveryID: deliveryID, timestamp: timestamp, body: body)).base64EncodedString()
    }

    /// The secret as the Standard Webhooks libraries take it: `whsec_` and the base64 of the key.
    /// A secret Tack made (or any `whsec_` + base64 secret) is already one and is used as it is;
    /// another secret's key is its UTF-8 bytes.
    public static func standardSecret(for secret: String) -> String {
        "whsec_" + Data(standardKey(secret)).base64EncodedString()
    }

    static func standardKey(_ secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))), !key.isEmpty { return Array(key) }
        return Array(secret.utf8)
    }

    private static func mac(key: [UInt8], deliveryID: String, timestamp: Int64, body: [UInt8]) -> HMAC<SHA256>.MAC {
        var message = Array("\(deliveryID).\(timestamp).".utf8)
        message += body
        return HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
    }

    /// A fresh secret: `whsec_` and 32 random bytes in hex.
    public static func freshSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return "whsec_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// Webhooks of boards and their delivery log. Authorisation is the caller's job (board admins).
public struct WebhookStore: Sendable {
    let postgres: PostgresClient
    let logger: Logger

    /// Creates the store.
    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    static let columns = "id, board_id, url, events, active, created_by, created_at, failures_in_row, disabled_reason, disabled_at"

    static func decode(_ row: PostgresRow) throws -> Webhook {
        let (id, boardID, url, events, active, createdBy, createdAt, failures, reason, disabledAt) =
            try row.decode((Int64, Int64, String, [String], Bool, Int64?, Date, Int32, String?, Date?).self)
        return Webhook(
            id: id,
            boardID: boardID,
            url: url,
            events: events,
            active: active,
            createdBy: createdBy,
            createdAt: createdAt,
            failuresInRow: Int(failures),
            disabledReason: reason,
            disabledAt: disabledAt
        )
    }

    /// The board's webhooks, oldest first.
    public func list(boardID: Int64) async throws -> [Webhook] {
        let rows = try await postgres.boundedQuery(
            "SELECT \(unescaped: Self.columns) FROM webhooks WHERE board_id = \(boardID) ORDER BY id",
            logger: logger
        )
        var result: [Webhook] = []
        for try await row in rows { result.append(try Self.decode(row)) }
        return result
    }

    /// One webhook of the board.
    public func get(boardID: Int64, webhookID: Int64) async throws -> Webhook {
        let rows = try await postgres.boundedQuery(
            "SELECT \(unescaped: Self.columns) FROM webhooks WHERE board_id = \(boardID) AND id = \(webhookID)",
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(.notFound("webhook"))
    }

    /// Creates a webhook that receives the board's events from now on.
    public func create(boardID: Int64, creatorID: Int64, url: String, secret: String, events: [String], active: Bool) async throws -> Webhook {
        let rows = try await postgres.boundedQuery(
            """
            INSERT INTO webhooks (board_id, url, secret, events, active, created_by, dispatched_version)
            SELECT id, \(url), \(secret), \(events), \(active), \(creatorID), version FROM boards WHERE id = \(boardID)
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(.notFound("board"))
    }

    /// Changes a webhook. Turning it on again clears an automatic disable and its failure count;
    /// events that happened while it was off are not delivered.
    public func update(boardID: Int64, webhookID: Int64, url: String?, secret: String?, events: [String]?, active: Bool?) async throws -> Webhook {
        let rows = try await postgres.boundedQuery(
            """
            UPDATE webhooks w SET
                url = coalesce(\(url), w.url),
                secret = coalesce(\(secret), w.secret),
                events = coalesce(\(events), w.events),
                failures_in_row = CASE WHEN \(active) AND NOT w.active THEN 0 ELSE w.failures_in_row END,
                disabled_reason = CASE WHEN \(active) THEN NULL ELSE w.disabled_reason END,
                disabled_at = CASE WHEN \(active) THEN NULL ELSE w.disabled_at END,
                dispatched_version = CASE WHEN \(active) AND NOT w.active THEN b.version ELSE w.dispatched_version END,
                active = coalesce(\(active), w.active)
            FROM boards b
            WHERE w.board_id = \(boardID) AND w.id = \(webhookID) AND b.id = w.board_id
            RETURNING w.id, w.board_id, w.url, w.events, w.active, w.created_by, w.created_at, w.failures_in_row, w.disabled_reason, w.disabled_at
            """,
            logger: logger
        )
        for try await row in rows { return try Self.decode(row) }
        throw BoardError(.notFound("webhook"))
    }

    /// Deletes a webhook and its delivery log.
    public func delete(boardID: Int64, webhookID: Int64) async throws {
        let rows = try await postgres.boundedQuery(
            "DELETE FROM webhooks WHERE board_id = \(boardID) AND id = \(webhookID) RETURNING id",
            logger: logger
        )
        for try await _ in rows { return }
        throw BoardError(.notFound("webhook"))
    }

    /// Recent deliveries of a webhook with their attempts, newest first; `before` pages by event version.
    public func deliveries(webhookID: Int64, limit: Int, before: Int64?) async throws -> [WebhookDeliveryRecord] {
        let rows = try await postgres.boundedQuery(
            """
            SELECT id, event_version, event_kind, status, created_at, finished_at FROM webhook_deliveries
            WHERE webhook_id = \(webhookID) AND event_version < \(before ?? Int64.max)
            ORDER BY event_version DESC
            LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [WebhookDeliveryRecord] = []
        for try await (id, version, kind, status, createdAt, finishedAt) in rows.decode((String, Int64, String, String, Date, Date?).self) {
            result.append(
                WebhookDeliveryRecord(
                    id: id,
                    eventVersion: version,
                    eventKind: kind,
                    status: status,
                    attempts: [],
                    createdAt: createdAt,
                    finishedAt: finishedAt
                )
            )
        }
        guard !result.isEmpty else { return [] }
        var index: [String: Int] = [:]
        for (i, delivery) in result.enumerated() { index[delivery.id] = i }
        let attempts = try await postgres.boundedQuery(
            """
            SELECT delivery_id, attempt, at, status_code, latency_ms, error FROM webhook_delivery_attempts
            WHERE delivery_id = ANY(\(result.map(\.id))) ORDER BY delivery_id, attempt
            """,
            logger: logger
        )
        for try await (deliveryID, attempt, at, status, latency, error) in attempts.decode((String, Int32, Date, Int32?, Int32, String?).self) {
            guard let i = index[deliveryID] else { continue }
            result[i].attempts.append(
                .init(attempt: Int(attempt), at: at, statusCode: status.map(Int.init), latencyMS: Int(latency), error: error)
            )
        }
        return result
    }
}

/// What a webhook's settings must look like.
public enum WebhookRules {
    /// Event kinds one webhook may subscribe to.
    public static let maximumEventKinds = 50
    /// A signing secret's length, when one is given.
    public static let secretLength = 16...200
}
