import Foundation
import Logging
import PostgresNIO
import TackCore
import TackTestSupport
import Testing

@testable import TackWorker

/// What a refused webhook delivery leaves in the delivery log, which every board admin reads.
@Suite("Webhook delivery refusals")
struct WebhookDeliveryTests {
    @Test("a name resolving inside and a name that does not resolve leave the same text in the delivery log, and no address")
    func refusalsAreNotADNSOracle() async throws {
        let capture = LogCapture()
        try await TestServers.withDatabase(settings: ["webhooks.allow_private_targets": "false"]) { config, postgres in
            let jobs = WebhookDeliveryJobs(postgres: postgres, settings: config.webhooks, maxAttempts: 3, logger: capture.logger())
            var texts: [String: String] = [:]
            let urls = [
                "http://localhost:9/",  // resolves to 127.0.0.1 (and ::1)
                "http://no-such-host.invalid:9/",  // does not resolve (RFC 6761: .invalid never does)
                "http://2130706433:9/",  // a literal 127.0.0.1
                "http://[::1]:9/",
            ]
            for url in urls {
                let delivery = WebhookDeliveryJobs.Delivery(
                    webhookID: 1,
                    boardID: 1,
                    version: 1,
                    kind: "card.created",
                    status: "pending",
                    attempts: 0,
                    url: url,
                    secret: "whsec_test",
                    active: true
                )
                let outcome = await jobs.send(body: Array("{}".utf8), deliveryID: "d-\(texts.count)", delivery: delivery)
                guard case .failed(let text, let status) = outcome else {
                    Issue.record("\(url) was not refused: \(outcome)")
                    continue
                }
                #expect(status == nil)
                texts[url] = text
            }
            #expect(Set(texts.values) == ["refused: internal or unresolvable target"], "\(texts)")
            for text in texts.values {
                #expect(text.firstMatch(of: /[0-9]+\.[0-9]+|::/) == nil, "no address in \(text)")
                #expect(!text.contains("resolve to") && !text.contains("does not resolve") && !text.contains("loopback"))
            }
        }
        // The operator's log keeps the reason.
        let refusals = capture.all.filter { $0.contains("webhook target refused") }
        #expect(refusals.count == 4)
        #expect(refusals.contains { $0.contains("localhost") && $0.contains("loopback") }, "\(refusals)")
        #expect(refusals.contains { $0.contains("no-such-host.invalid does not resolve") }, "\(refusals)")
    }
}
