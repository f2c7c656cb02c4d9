import Foundation
import Testing

@testable import TackCore

/// Deliveries are signed twice: Tack's `X-Tack-Signature` and the Standard Webhooks headers.
@Suite("Webhook signatures")
struct WebhookSignatureTests {
    @Test("the Standard Webhooks signature matches the spec's published example")
    func standardExample() {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = WebhookSignature.signStandard(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            deliveryID: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: body
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("a secret Tack makes is its own Standard Webhooks secret; another one is given in that form")
    func standardSecrets() {
        let fresh = WebhookSignature.freshSecret()
        #expect(WebhookSignature.standardSecret(for: fresh) == fresh)
        #expect(WebhookSignature.standardSecret(for: "plain-secret-of-tack") == "whsec_cGxhaW4tc2VjcmV0LW9mLXRhY2s=")
        // Tack's own header is unchanged: hex HMAC under the secret's UTF-8 bytes.
        let tack = WebhookSignature.sign(secret: "plain-secret-of-tack", deliveryID: "wh1-x", timestamp: 1, body: Array("{}".utf8))
        #expect(tack.hasPrefix("v1=") && tack.count == 3 + 64)
    }
}
