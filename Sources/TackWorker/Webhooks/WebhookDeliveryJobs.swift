import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import TackCore

/// `webhooks.deliver`: one HTTP POST of one event to one webhook.
///
/// The body is `{"delivery_id","webhook_id","event":{…}}`; headers carry the delivery id (the same
/// on every attempt), a timestamp and `X-Tack-Signature: v1=HMAC-SHA256(secret, id.timestamp.body)`,
/// and the same as Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature: v1,<base64>`), which its libraries verify with `standard_secret`.
/// Network errors, timeouts, 5xx and 429 are retried with backoff (429's Retry-After respected);
/// other answers outside 2xx, redirects included (never followed), fail at once. Every attempt is
/// logged in `webhook_delivery_attempts`. After `webhooks.disable_after_failures` failed deliveries
/// in a row the webhook is disabled and its creator notified.
public struct WebhookDeliveryJobs: JobHandler {
    /// The job kind.
    public static let kind = "webhooks.deliver"

    /// Job arguments.
    public struct Arguments: Codable, Sendable {
        /// The delivery row.
        public var deliveryID: String
    }

    let postgres: PostgresClient
    let events: EventLog
    let guardrail: WebhookTargetGuard
    let settings: TackConfiguration.Webhooks
    let maxAttempts: Int
    let logger: Logger

    /// Creates the handler; `maxAttempts` is `worker.max_attempts` (the last attempt records the final failure).
    public init(postgres: PostgresClient, settings: TackConfiguration.Webhooks, maxAttempts: Int, logger: Logger) {
        self.postgres = postgres
        self.events = EventLog(postgres: postgres, logger: logger)
        self.guardrail = WebhookTargetGuard(allowPrivateTargets: settings.allowPrivateTargets)
        self.settings = settings
        self.maxAttempts = maxAttempts
        self.logger = logger
    }

    public var kinds: [String] { [Self.kind] }

    struct Delivery {
        var webhookID: Int64
        var boardID: Int64
        var version: Int64
        /// The event's identity (nil for deliveries recorded before events had one).
        var eventID: UUID?
        var kind: String
        var status: String
        var attempts: Int
        var url: String
        var secret: String
        var active: Bool
    }

    /// What one HTTP attempt came to.
    enum Outcome {
        case delivered(Int)
        case retryable(String, status: Int?, retryAfter: Duration?)
        case failed(String, status: Int?)
    }

    public func perform(_ job: Job) async throws {
        let deliveryID = try job.decode(Arguments.self).deliveryID
        guard let delivery = try await load(deliveryID) else { return }  // webhook or board deleted since
        guard delivery.status == "pending" else { return }  // done by an earlier delivery of this job
        guard delivery.active else {
            try await postgres.boundedQuery(
                "UPDATE webhook_deliveries SET status = 'failed', finished_at = now() WHERE id = \(deliveryID) AND status = 'pending'",
                logger: logger
            )
            return
        }
        guard let event = try await events.events(boardID: delivery.boardID, after: delivery.version - 1, limit: 1).first,
            event.version == delivery.version, delivery.eventID.map({ $0 == event.id }) ?? true
        else {
            // The event was pruned before it could be delivered (or lost with commits PostgreSQL lost).
            try await finish(
                deliveryID,
                delivery,
                attempt: delivery.attempts + 1,
                outcome: .failed("the event is no longer in the event log", status: nil),
                latency: 0
            )
            return
        }
        let body = Array("{\"delivery_id\":\(BoardEvent.quote(deliveryID)),\"webhook_id\":\(delivery.webhookID),\"event\":\(event.json)}".utf8)
        let started = ContinuousClock.now
        let outcome = await send(body: body, deliveryID: deliveryID, delivery: delivery)
        let latency = Int((ContinuousClock.now - started) / .milliseconds(1))
        let attempt = delivery.attempts + 1
        switch outcome {
        case .retryable(let message, let status, let retryAfter) where job.attempt < maxAttempts:
            try await recordAttempt(deliveryID, attempt: attempt, status: status, latency: latency, error: message)
            throw JobFailure.retry("webhook delivery \(deliveryID): \(message)", after: retryAfter)
        default:
            try await finish(deliveryID, delivery, attempt: attempt, outcome: outcome, latency: latency)
        }
    }

    private func load(_ deliveryID: String) async throws -> Delivery? {
        let rows = try await postgres.boundedQuery(
            """
            SELECT d.webhook_id, d.board_id, d.event_version, d.event_id, d.event_kind, d.status, d.attempts, w.url, w.secret, w.active
            FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
            WHERE d.id = \(deliveryID)
            """,
            logger: logger
        )
        for try await (webhookID, boardID, version, eventID, kind, status, attempts, url, secret, active)
            in rows.decode((Int64, Int64, Int64, UUID?, String, String, Int32, String, String, Bool).self)
        {
            return Delivery(
                webhookID: webhookID,
                boardID: boardID,
                version: version,
                eventID: eventID,
                kind: kind,
                status: status,
                attempts: Int(attempts),
                url: url,
                secret: secret,
                active: active
            )
        }
        return nil
    }

    /// One POST to the checked address; never throws.
    func send(body: [UInt8], deliveryID: String, delivery: Delivery) async -> Outcome {
        let target: WebhookTargetGuard.Target
        do {
            target = try await guardrail.check(delivery.url)
        } catch {
            // The reason (how the name resolved, or that it did not) is for operators only: the
            // delivery log is read by every board admin, who could otherwise map internal names.
            logger.notice(
                "webhook target refused",
                metadata: [
                    "tack.webhook.id": "\(delivery.webhookID)", "tack.delivery.id": "\(deliveryID)", "tack.webhook.refusal": "\(error.message)",
                ]
            )
            return .failed(WebhookTargetGuard.Refusal.deliveryLogText, status: nil)
        }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .milliseconds(Int64(settings.timeout.wholeMilliseconds)),
                read: .milliseconds(Int64(settings.timeout.wholeMilliseconds))
            )
        )
        // Connect to the address checked above; TLS still verifies the URL's host name.
        configuration.dnsOverride = [target.lookupName: target.address]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        defer { client.shutdown { _ in } }
        let timestamp = Int64(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Tack-Webhooks/\(TackVersion.current)")
        request.headers.add(name: "X-Tack-Delivery", value: deliveryID)
        request.headers.add(name: "X-Tack-Event", value: delivery.kind)
        request.headers.add(name: "X-Tack-Timestamp", value: String(timestamp))
        request.headers.add(
            name: "X-Tack-Signature",
            value: WebhookSignature.sign(secret: delivery.secret, deliveryID: deliveryID, timestamp: timestamp, body: body)
        )
        // The same attempt per the Standard Webhooks spec, for receivers that verify with its libraries.
        request.headers.add(name: "webhook-id", value: deliveryID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature",
            value: WebhookSignature.signStandard(secret: delivery.secret, deliveryID: deliveryID, timestamp: timestamp, body: body)
        )
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(settings.timeout.wholeMilliseconds)))
            // Read (and drop) at most 64 KiB of the answer, so the connection closes cleanly.
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                if read > 65536 { break }
            }
            let status = Int(response.status.code)
            switch status {
            case 200..<300:
                return .delivered(status)
            case 429:
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds(min(max($0, 1), 3600)) }
                return .retryable("the receiver answered 429 Too Many Requests", status: status, retryAfter: retryAfter)
            case 500..<600:
                return .retryable("the receiver answered \(status)", status: status, retryAfter: nil)
            case 300..<400:
                return .failed("the receiver answered \(status), a redirect; redirects are not followed", status: status)
            default:
                return .failed("the receiver answered \(status)", status: status)
            }
        } catch {
            return .retryable("could not deliver: \(Self.describe(error))", status: nil, retryAfter: nil)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout { return "timed out" }
        }
        return String(describing: error)
    }

    private func recordAttempt(_ deliveryID: String, attempt: Int, status: Int?, latency: Int, error: String?) async throws {
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            try await tx.query(
                """
                INSERT INTO webhook_delivery_attempts (delivery_id, attempt, status_code, latency_ms, error)
                VALUES (\(deliveryID), \(attempt), \(status), \(latency), \(error))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
            // enqueued_at: the job is alive (see WebhookDispatcher.lostAfter).
            try await tx.query(
                "UPDATE webhook_deliveries SET attempts = \(attempt), enqueued_at = now() WHERE id = \(deliveryID)",
                logger: logger
            )
        }
    }

    /// Records the last attempt and the delivery's end; counts failures in a row and disables the
    /// webhook (notifying its creator) when they reach the limit.
    private func finish(_ deliveryID: String, _ delivery: Delivery, attempt: Int, outcome: Outcome, latency: Int) async throws {
        let (succeeded, status, error): (Bool, Int?, String?) =
            switch outcome {
            case .delivered(let code): (true, code, nil)
            case .retryable(let message, let code, _): (false, code, "gave up after \(attempt) attempts: " + message)
            case .failed(let message, let code): (false, code, message)
            }
        let limit = settings.disableAfterFailures
        try await postgres.withBoundedTransaction(logger: logger) { tx in
            try await tx.query(
                """
                INSERT INTO webhook_delivery_attempts (delivery_id, attempt, status_code, latency_ms, error)
                VALUES (\(deliveryID), \(attempt), \(status), \(latency), \(error))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
            try await tx.query(
                """
                UPDATE webhook_deliveries SET attempts = \(attempt), status = \(succeeded ? "succeeded" : "failed"), finished_at = now()
                WHERE id = \(deliveryID)
                """,
                logger: logger
            )
            if succeeded {
                try await tx.query(
                    "UPDATE webhooks SET failures_in_row = 0 WHERE id = \(delivery.webhookID) AND failures_in_row <> 0",
                    logger: logger
                )
                return
            }
            let rows = try await tx.query(
                """
                UPDATE webhooks SET failures_in_row = failures_in_row + 1,
                    active = CASE WHEN failures_in_row + 1 >= \(limit) THEN false ELSE active END,
                    disabled_at = CASE WHEN failures_in_row + 1 >= \(limit) AND active THEN now() ELSE disabled_at END,
                    disabled_reason = CASE WHEN failures_in_row + 1 >= \(limit) AND active
                        THEN \("\(limit) deliveries in a row failed; the last: \(error ?? "")") ELSE disabled_reason END
                WHERE id = \(delivery.webhookID)
                RETURNING (failures_in_row = \(limit)) AS just_disabled, created_by, url
                """,
                logger: logger
            )
            for try await (justDisabled, createdBy, url) in rows.decode((Bool, Int64?, String).self) where justDisabled {
                logger.warning(
                    "webhook disabled after failed deliveries",
                    metadata: ["tack.webhook.id": "\(delivery.webhookID)", "tack.board.id": "\(delivery.boardID)"]
                )
                guard let createdBy else { continue }
                let payload = "{\"webhook_id\":\(delivery.webhookID),\"url\":\(BoardEvent.quote(url)),\"failures\":\(limit)}"
                try await tx.query(
                    """
                    INSERT INTO notifications (user_id, kind, board_id, actor_id, payload)
                    VALUES (\(createdBy), 'webhook_disabled', \(delivery.boardID), NULL, \(payload)::jsonb)
                    """,
                    logger: logger
                )
            }
        }
    }
}
