import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Protects the network Tack runs in from webhook URLs pointing inside it (SSRF): the host is
/// resolved, and loopback, private, link-local, shared, reserved, multicast, documentation and
/// IPv4-mapped or -translated IPv6 addresses are refused unless `webhooks.allow_private_targets`
/// is on. The delivery then connects to the address checked here (no second lookup a DNS
/// rebinding could change) and follows no redirects.
///
/// A host is read as resolvers and browsers read it (`IPAddress(host:)`): `2130706433`,
/// `0x7f000001`, `0177.0.0.1`, `127.1`, `127.0.0.1.` and `[::1%25lo]` are all 127.0.0.1 or ::1,
/// so they are refused when the webhook is saved, as the dotted form is.
///
/// What a refusal says is for the server log and for the person saving a literal address. The
/// delivery log, which any board admin reads, shows only `Refusal.deliveryLogText`: naming the
/// address a host resolved to, or that it did not resolve, would let users map internal names.
public struct WebhookTargetGuard: Sendable {
    /// A checked target: where to connect for this URL.
    public struct Target: Sendable, Equatable {
        /// The URL's host, lower-cased, without brackets or a trailing dot: what was checked.
        public var host: String
        /// The host as HTTP clients read it from the URL (Foundation's `URL.host`, brackets
        /// removed), the key under which AsyncHTTPClient's `dnsOverride` must map it to `address`:
        /// any other spelling would let the client resolve the name again by itself.
        public var lookupName: String
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

        /// The one text a delivery log records for every refused target, whatever the reason: it
        /// must not tell a name that resolves inside from one that does not resolve at all.
        public static let deliveryLogText = "refused: internal or unresolvable target"
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
        host = host.lowercased()
        // Resolvers stop at a NUL and some skip what follows white space: such a host could be checked as one name and reached as another.
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f }) else { throw Refusal(message: "the URL's host holds a control character or space") }
        // A fully qualified name's final dot names the same host: `127.0.0.1.` is 127.0.0.1.
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty, !host.hasSuffix(".") else { throw Refusal(message: "the URL's host is not a valid name") }
        // What looks like an address must be one: resolvers differ on what else they make of it.
        if host.contains(":") {
            guard IPAddress(host: host) != nil else { throw Refusal(message: "the URL's host is not a valid IPv6 address") }
        } else if IPAddress.endsInNumber(host) {
            guard IPAddress(host: host) != nil else { throw Refusal(message: "the URL's host is not a valid IPv4 address") }
        }
        return (host, port, scheme == "https")
    }

    /// Resolves and checks a URL; returns the address to connect to.
    public func check(_ url: String) async throws(Refusal) -> Target {
        let (host, port, isTLS) = try Self.parse(url)
        let addresses: [IPAddress]
        if let literal = IPAddress(host: host) {
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
        var lookupName = URL(string: url)?.host ?? host
        if lookupName.hasPrefix("[") && lookupName.hasSuffix("]") { lookupName = String(lookupName.dropFirst().dropLast()) }
        return Target(host: host, lookupName: lookupName, address: addresses[0].description, port: port, isTLS: isTLS)
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

    /// The address a URL's host denotes when it is a literal, read as resolvers (glibc's
    /// `getaddrinfo`) and browsers read it; nil for a name.
    ///
    /// IPv6 may come in brackets and with a zone id (`fe80::1%eth0`, `%25eth0` as URLs write it),
    /// which does not change the address. IPv4 follows `inet_aton`: one to four parts separated by
    /// dots, each decimal, octal with a leading `0` or hexadecimal with `0x`; every part but the
    /// last is one byte and the last fills the bytes left, so `127.1`, `2130706433`, `0x7f000001`
    /// and `0177.0.0.1` are all 127.0.0.1. One trailing dot is allowed (`127.0.0.1.`).
    public init?(host: String) {
        var text = Substring(host)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if text.contains(":") {
            if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
            guard let address = IPAddress(String(text)), address.bytes.count == 16 else { return nil }
            self = address
            return
        }
        if text.hasSuffix(".") { text = text.dropLast() }
        guard let bytes = Self.inetAton(text) else { return nil }
        self.bytes = bytes
    }

    /// True when the last dot-separated label of `host` is a number (decimal, or hexadecimal with
    /// `0x`): such a host is meant as an IPv4 address, never as a name (the URL Standard's rule).
    static func endsInNumber(_ host: String) -> Bool {
        var text = Substring(host)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard let last = text.split(separator: ".", omittingEmptySubsequences: false).last, !last.isEmpty else { return false }
        if last.allSatisfy({ $0.isASCII && $0.isNumber }) { return true }
        let lower = last.lowercased()
        return lower.hasPrefix("0x") && lower.dropFirst(2).allSatisfy { $0.isASCII && $0.isHexDigit }
    }

    /// IPv4 by `inet_aton`'s rules (see `init(host:)`), without the trailing garbage glibc
    /// tolerates after white space.
    static func inetAton(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt32] = []
        for part in parts {
            guard let value = number(part) else { return nil }
            values.append(value)
        }
        let last = values.removeLast()
        guard values.allSatisfy({ $0 <= 255 }) else { return nil }
        let lastBytes = 4 - values.count
        guard lastBytes == 4 || last < UInt32(1) << UInt32(8 * lastBytes) else { return nil }
        var bytes = values.map { UInt8($0) }
        for index in (0..<lastBytes).reversed() { bytes.append(UInt8(truncatingIfNeeded: last >> UInt32(8 * index))) }
        return bytes
    }

    /// One part of an inet_aton address: `0x…` hexadecimal (`0x` alone is 0), `0…` octal, else
    /// decimal; nil when it is not a number or exceeds 32 bits.
    private static func number(_ part: Substring) -> UInt32? {
        var digits = part.utf8[...]
        var radix: UInt32 = 10
        if digits.count >= 2, digits.first == UInt8(ascii: "0"), digits.dropFirst().first.map({ $0 | 0x20 }) == UInt8(ascii: "x") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.count >= 2, digits.first == UInt8(ascii: "0") {
            radix = 8
            digits = digits.dropFirst()
        } else if digits.isEmpty {
            return nil
        }
        var value: UInt32 = 0
        for byte in digits {
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
            guard digit < radix else { return nil }
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: radix)
            let (sum, overflowSum) = times.addingReportingOverflow(digit)
            guard !overflowTimes, !overflowSum else { return nil }
            value = sum
        }
        return value
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
