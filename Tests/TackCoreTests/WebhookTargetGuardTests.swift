import Foundation
import Testing

@testable import TackCore

@Suite("Webhook SSRF guard")
struct WebhookTargetGuardTests {
    @Test(
        "internal IPv4 and IPv6 addresses are named as such",
        arguments: [
            ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"),
            ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("100.64.0.1", "shared address space"), ("0.0.0.0", "this network"),
            ("224.0.0.1", "multicast"), ("255.255.255.255", "reserved"), ("192.0.2.10", "documentation"), ("198.18.0.1", "benchmarking"),
            ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"), ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "an IPv4-mapped address"), ("::ffff:8.8.8.8", "an IPv4-mapped address"),
            ("64:ff9b::a00:1", "an IPv4-translated (NAT64) address"), ("2001:db8::1", "documentation"),
        ]
    )
    func internalAddresses(address: String, reason: String) throws {
        let parsed = try #require(IPAddress(address))
        #expect(parsed.internalReason == reason)
    }

    @Test(
        "public addresses pass",
        arguments: ["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001::200e"]
    )
    func publicAddresses(address: String) throws {
        #expect(try #require(IPAddress(address)).internalReason == nil)
    }

    @Test("URLs are parsed strictly: scheme, host, no credentials")
    func parsing() throws {
        #expect(try WebhookTargetGuard.parse("https://Example.com/hook").host == "example.com")
        #expect(try WebhookTargetGuard.parse("https://example.com/hook").port == 443)
        #expect(try WebhookTargetGuard.parse("http://[::1]:8080/x") == ("::1", 8080, false))
        #expect(throws: WebhookTargetGuard.Refusal.self) { try WebhookTargetGuard.parse("ftp://example.com/") }
        #expect(throws: WebhookTargetGuard.Refusal.self) { try WebhookTargetGuard.parse("https:///nohost") }
        // Empty brackets are a host to URLComponents and nothing once unwrapped (found by fuzz/webhook_url).
        #expect(throws: WebhookTargetGuard.Refusal.self) { try WebhookTargetGuard.parse("http://[]:443/") }
        #expect(throws: WebhookTargetGuard.Refusal.self) { try WebhookTargetGuard.parse("https://user:pw@example.com/") }
        #expect(throws: WebhookTargetGuard.Refusal.self) { try WebhookTargetGuard.parse("not a url") }
    }

    @Test("a name resolving to loopback is refused with the guard on and allowed with it off")
    func resolution() async throws {
        do {
            _ = try await WebhookTargetGuard(allowPrivateTargets: false).check("http://localhost:9/")
            Issue.record("localhost was allowed")
        } catch {
            #expect(error.message.contains("loopback"))
            #expect(error.message.contains("webhooks.allow_private_targets"))
        }
        let target = try await WebhookTargetGuard(allowPrivateTargets: true).check("http://localhost:9/")
        #expect(["127.0.0.1", "::1"].contains(target.address))
        #expect(target.host == "localhost" && target.port == 9)
        await #expect(throws: WebhookTargetGuard.Refusal.self) {
            try await WebhookTargetGuard(allowPrivateTargets: false).check("http://10.0.0.1/")
        }
    }

    @Test("the signature is HMAC-SHA256 over id.timestamp.body, as receivers compute it")
    func signature() {
        // Computed independently: printf 'd1.1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let signature = WebhookSignature.sign(secret: "whsec_test", deliveryID: "d1", timestamp: 1_700_000_000, body: Array("{\"a\":1}".utf8))
        #expect(signature == "v1=290bfd769055f78dd20714657aa10f31185791563e40f848249a1a660d1650e0")
    }
}
