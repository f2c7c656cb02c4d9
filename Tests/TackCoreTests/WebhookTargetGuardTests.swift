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

    /// Every spelling `getaddrinfo` and browsers accept for an address (inet_aton's rules for IPv4,
    /// zone ids for IPv6, a trailing dot), with the address it denotes.
    static let internalAddressSpellings: [(String, String)] = [
        ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0X7F000001", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"), ("127.0.1", "127.0.0.1"),
        ("127.000.000.001", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"), ("0", "0.0.0.0"), ("0x", "0.0.0.0"), ("10.0x10.1", "10.16.0.1"),
        ("0xa9fea9fe", "169.254.169.254"), ("2852039166", "169.254.169.254"), ("169.254.169.254.", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"), ("192.168.65535", "192.168.255.255"), ("[::1]", "::1"), ("::1%lo", "::1"),
        ("fe80::1%25eth0", "fe80::1"), ("[fe80::1%eth0]", "fe80::1"), ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ]

    @Test("a host is read as resolvers read it: every spelling of an internal address is that address", arguments: internalAddressSpellings)
    func internalSpellings(host: String, address: String) throws {
        let parsed = try #require(IPAddress(host: host), "\(host)")
        #expect(parsed.description == address)
        #expect(parsed.internalReason != nil)
    }

    @Test(
        "public addresses in other spellings are public; names and malformed numbers are not addresses",
        arguments: [
            ("134744072", "8.8.8.8"), ("8.8.2056", "8.8.8.8"), ("0x8.0x8.0x8.0x8", "8.8.8.8"), ("010.010.010.010", "8.8.8.8"),
            ("example.com", nil), ("localhost", nil), ("1.2.3.4.5", nil), ("256.1.1.1", nil), ("1.256.1", nil), ("4294967296", nil),
            ("0x100000000", nil), ("08.0.0.1", nil), ("0x7g", nil), ("1..2", nil), ("", nil), (".", nil), ("::1::2", nil), ("127.0.0.1..", nil),
        ] as [(String, String?)]
    )
    func otherSpellings(host: String, address: String?) {
        let parsed = IPAddress(host: host)
        #expect(parsed?.description == address, "\(host)")
        if parsed != nil { #expect(parsed?.internalReason == nil) }
    }

    @Test("URL hosts lose their trailing dot; numbers that are not addresses are refused as hosts")
    func hostNormalisation() throws {
        #expect(try WebhookTargetGuard.parse("http://127.0.0.1.:8080/").host == "127.0.0.1")
        #expect(try WebhookTargetGuard.parse("https://Hooks.Example.COM./x").host == "hooks.example.com")
        #expect(try WebhookTargetGuard.parse("http://0x7F000001/").host == "0x7f000001")
        for url in ["http://1.2.3.4.5/", "http://example.123/", "http://256.0.0.1/", "http://4294967296/", "http://08.0.0.1/", "http://a../"] {
            #expect(throws: WebhookTargetGuard.Refusal.self, "\(url)") { try WebhookTargetGuard.parse(url) }
        }
    }

    @Test(
        "the delivery-time check refuses every spelling of an internal address, and connects to it when private targets are allowed",
        arguments: [
            "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://0/", "http://127.0.0.1./",
            "http://localhost./", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://0xa9fea9fe:9/",
        ]
    )
    func deliveryCheck(url: String) async throws {
        await #expect(throws: WebhookTargetGuard.Refusal.self, "\(url)") {
            try await WebhookTargetGuard(allowPrivateTargets: false).check(url)
        }
        let target = try await WebhookTargetGuard(allowPrivateTargets: true).check(url)
        #expect(try #require(IPAddress(target.address)).internalReason != nil)
        #expect(target.lookupName == URL(string: url)?.host?.trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
    }

    @Test("the signature is HMAC-SHA256 over id.timestamp.body, as receivers compute it")
    func signature() {
        // Computed independently: printf 'd1.1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let signature = WebhookSignature.sign(secret: "whsec_test", deliveryID: "d1", timestamp: 1_700_000_000, body: Array("{\"a\":1}".utf8))
        #expect(signature == "v1=290bfd769055f78dd20714657aa10f31185791563e40f848249a1a660d1650e0")
    }
}
