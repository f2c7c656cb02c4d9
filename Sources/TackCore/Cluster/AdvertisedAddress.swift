#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The address other machines reach a listening process at, as the cluster registry records it
/// (`status` shows it; `gen_nginx --from-cluster` lists it in the upstreams).
public enum AdvertisedAddress {
    /// `host:port`, with a wildcard host (`0.0.0.0`, `::`, empty) replaced by this machine's first
    /// non-loopback IPv4 address (127.0.0.1 when it has none).
    public static func of(host: String, port: Int) -> String {
        let wildcard = ["", "0.0.0.0", "::", "[::]", "*"].contains(host)
        let shown = wildcard ? (firstIPv4() ?? "127.0.0.1") : host
        return shown.contains(":") && !shown.hasPrefix("[") ? "[\(shown)]:\(port)" : "\(shown):\(port)"
    }

    /// The first up, non-loopback interface's IPv4 address.
    static func firstIPv4() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            let flags = Int32(current.pointee.ifa_flags)
            guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0
            else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let found = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet -> Bool in
                var raw = inet.pointee.sin_addr
                return inet_ntop(AF_INET, &raw, &text, socklen_t(INET_ADDRSTRLEN)) != nil
            }
            if found { return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return nil
    }
}
