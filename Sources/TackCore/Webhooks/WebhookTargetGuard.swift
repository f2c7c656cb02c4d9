import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Protects the network Tack runs in from webhook URLs pointing inside it (SSRF): the host is
/// resolved, and loopback, private, link-local, shared, reserved, multicast, documentation and
/// IPv4-mapped or -translated IPv6 addresses are refused unless `webhooks.allow_private_targets`
/// is on. The delivery then connects to the address checked here (no second lookup a DNS
/// rebinding could change) and follows no redirects.
public struct WebhookTargetGuard: Sendable {
    /// A checked target: where to connect for this URL.
    public struct Target: Sendable, Equatable {
        /// Host name as written in the URL (for the Host header and TLS name checks).
        public var host: String
        /// The address to connect to, as text.
        public var address: String
        /// Port.
        public var port: Int
        /// True for https.
        public var isTLS: Bool
    }

    /// Why a URL is refused. The message names the URL part at fault and never leaks more than the address.
    public struct Refusal: Error, Sendable, CustomStringConvertible, Equatable {
        /// What is wrong.
        public let message: String
        public var description: String { message }
    }

    /// Allow internal addresses.
    public let allowPrivateTargets: Bool

    /// Creates a guard.
    public init(allowPrivateTargets: Bool) {
        self.allowPrivateTargets = allowPrivateTargets
    }

    /// Checks the form of a URL without resolving it (for validation when a webhook is saved).
    public static func parse(_ url: String) throws(Refusal) -> (host: String, port: Int, isTLS: Bool) {
        guard url.count <= 2000, let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https"
        else {
            throw Refusal(message: "the URL must start with http:// or https://")
        }
        guard var host = components.host, !host.isEmpty else { throw Refusal(message: "the URL has no host") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw Refusal(message: "the URL has no host") }  // `http://[]/` (found by fuzz/webhook_url)
        guard components.user == nil && components.password == nil else {
            throw Refusal(message: "the URL must not carry a user name or password; sign deliveries with the webhook secret instead")
        }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw Refusal(message: "the URL's port is out of range") }
        return (host.lowercased(), port, scheme == "https")
    }

    /// Resolves and checks a URL; returns the address to connect to.
    public func check(_ url: String) async throws(Refusal) -> Target {
        let (host, port, isTLS) = try Self.parse(url)
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = await Self.resolve(host)
            guard !addresses.isEmpty else { throw Refusal(message: "the host \(host) does not resolve") }
        }
        if !allowPrivateTargets {
            // Every address must be public: a name that also resolves inside could be switched to it.
            for address in addresses {
                if let reason = address.internalReason {
                    throw Refusal(
                        message:
                            "the host \(host) resolves to \(address) (\(reason)); such targets are refused unless webhooks.allow_private_targets is on"
                    )
                }
            }
        }
        return Target(host: host, address: addresses[0].description, port: port, isTLS: isTLS)
    }

    /// getaddrinfo on a thread of its own (it blocks), so no shared executor stalls.
    static func resolve(_ host: String) async -> [IPAddress] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[IPAddress], Never>) in
            let thread = Thread {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                var found: [IPAddress] = []
                if getaddrinfo(host, nil, &hints, &result) == 0 {
                    var cursor = result
                    while let info = cursor {
                        if let address = info.pointee.ai_addr, let parsed = IPAddress(sockaddr: address), !found.contains(parsed) {
                            found.append(parsed)
                        }
                        cursor = info.pointee.ai_next
                    }
                    freeaddrinfo(result)
                }
                continuation.resume(returning: found)
            }
            thread.start()
        }
    }
}

/// An IPv4 or IPv6 address as bytes.
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes.
    public let bytes: [UInt8]

    /// Parses textual IPv4 or IPv6.
    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    init?(sockaddr pointer: UnsafeMutablePointer<sockaddr>) {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            bytes = pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) } }
        case AF_INET6:
            bytes = pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) } }
        default:
            return nil
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = copy.withUnsafeMutableBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Why the address is internal (not on the public internet), or nil when it is public.
    public var internalReason: String? {
        if bytes.count == 4 { return Self.v4Reason(bytes) }
        let b = bytes
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] == 1 ? "loopback" : "unspecified" }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return "an IPv4-mapped address" }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return "an IPv4-compatible address" }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b { return "an IPv4-translated (NAT64) address" }
        if b[0] == 0xfe && (b[1] & 0xc0) == 0x80 { return "link-local" }
        if b[0] == 0xfe && (b[1] & 0xc0) == 0xc0 { return "site-local" }
        if (b[0] & 0xfe) == 0xfc { return "private (unique local)" }
        if b[0] == 0xff { return "multicast" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return "documentation" }
        if b[0] == 0x20 && b[1] == 0x02 { return "a 6to4 address" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00 { return "a Teredo address" }
        return nil
    }

    static func v4Reason(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "this network"
        case (10, _): return "private"
        case (100, 64...127): return "shared address space"
        case (127, _): return "loopback"
        case (169, 254): return "link-local"
        case (172, 16...31): return "private"
        case (192, 168): return "private"
        case (198, 18...19): return "benchmarking"
        case (224...239, _): return "multicast"
        case (240...255, _): return "reserved"
        default: break
        }
        if b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2) { return b[2] == 0 ? "IETF protocol assignments" : "documentation" }
        if b[0] == 198 && b[1] == 51 && b[2] == 100 { return "documentation" }
        if b[0] == 203 && b[1] == 0 && b[2] == 113 { return "documentation" }
        return nil
    }
}
