// libFuzzer target: WebhookTargetGuard.parse and IPAddress, the URL and host checks a webhook
// target passes when it is saved (the resolving half, check(_:), needs DNS and is not fuzzed).
//
// The input is a URL; without "://" it is read as what follows "http://". Properties of an
// accepted URL: the scheme was http or https and isTLS says which; the port is 1-65535 and
// defaults to 80/443; the host is non-empty, lower-case, without brackets, and the URL as a whole
// is at most 2000 characters; an IP literal host prints back (inet_ntop) to text that parses to
// the same address; an IPv4-mapped IPv6 address is always internal.
// And issue 12's F4: every host that the C library's inet_aton reads as an internal IPv4 address
// (`127.1`, `2130706433`, `0x7f000001`) is refused at save, i.e. IPAddress(host) reads it too.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebhookURL(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        var url = String(decoding: bytes, as: UTF8.self)
        if !url.contains("://") { url = "http://" + url }
        let parsed: (host: String, port: Int, isTLS: Bool)
        do throws(WebhookTargetGuard.Refusal) {
            parsed = try WebhookTargetGuard.parse(url)
        } catch {
            fuzzExpect(!error.message.isEmpty, "an empty refusal")
            return
        }
        let scheme = url.prefix(while: { $0 != ":" }).lowercased()
        fuzzExpect(scheme == "http" || scheme == "https", "accepted the scheme \(fuzzShow(scheme))")
        fuzzExpect(parsed.isTLS == (scheme == "https"), "isTLS \(parsed.isTLS) for \(scheme)")
        fuzzExpect((1...65535).contains(parsed.port), "port \(parsed.port)")
        fuzzExpect(url.count <= 2000, "accepted a URL of \(url.count) characters")
        fuzzExpect(!parsed.host.isEmpty, "an empty host")
        fuzzExpect(parsed.host == parsed.host.lowercased(), "host \(fuzzShow(parsed.host)) is not lower-case")
        fuzzExpect(!parsed.host.hasPrefix("[") && !parsed.host.hasSuffix("]"), "host \(fuzzShow(parsed.host)) keeps its brackets")
        if let address = IPAddress(parsed.host) {
            fuzzExpect(address.bytes.count == 4 || address.bytes.count == 16, "an address of \(address.bytes.count) bytes")
            let printed = address.description
            fuzzExpect(IPAddress(printed) == address, "\(fuzzShow(parsed.host)) prints as \(printed), which reads differently")
            let b = address.bytes
            if b.count == 16 && b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
                fuzzExpect(address.internalReason != nil, "the IPv4-mapped address \(printed) counts as public")
            }
        }
        do {
            var v4 = in_addr()
            if inet_aton(parsed.host, &v4) != 0 {
                let bytes = withUnsafeBytes(of: &v4) { Array($0) }
                if IPAddress.v4Reason(bytes) != nil {
                    let literal = IPAddress(host: parsed.host)
                    fuzzExpect(
                        literal?.bytes == bytes,
                        "\(fuzzShow(parsed.host)) is \(bytes) to the C library, which would connect there, but the save check reads \(fuzzShow(literal))"
                    )
                }
            }
        }
    }
}
