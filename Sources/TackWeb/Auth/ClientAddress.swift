import Foundation
import HTTPTypes
import NIOCore

/// The address login throttling counts failures against.
///
/// Behind nginx every peer is nginx, so the client's address comes from `X-Forwarded-For`, trusted
/// only from a loopback or Unix-socket peer (a proxy on this machine), since any client can send
/// one. The entry taken is the last: nginx.conf.example sets `$proxy_add_x_forwarded_for`, which is
/// whatever the client sent followed by the address nginx saw, so only the last entry was written
/// by the proxy; a client that sends its own header cannot pick its throttling bucket. (Behind a
/// further load balancer, let nginx's realip module restore the client address.) A request with
/// no peer at all (in-process tests) counts as local.
enum ClientAddress {
    /// The header a reverse proxy appends the client's address to.
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// The client's address for this peer and header.
    static func resolve(peer: SocketAddress?, forwardedFor: String?) -> String {
        if isLocal(peer), let forwardedFor,
            let last = forwardedFor.split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
            looksLikeAddress(last)
        {
            return last.lowercased()
        }
        return peer?.ipAddress ?? "local"
    }

    /// Whether the peer is on this machine (loopback, Unix socket, or none at all).
    static func isLocal(_ peer: SocketAddress?) -> Bool {
        guard let peer else { return true }
        switch peer {
        case .unixDomainSocket: return true
        case .v4: return peer.ipAddress?.hasPrefix("127.") ?? false
        case .v6:
            guard let ip = peer.ipAddress?.lowercased() else { return false }
            return ip == "::1" || ip.hasPrefix("::ffff:127.")
        }
    }

    /// IPv4 or IPv6 characters only, and short: the value becomes part of a Redis key.
    static func looksLikeAddress(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 45
            && text.unicodeScalars.allSatisfy { c in
                ("0"..."9").contains(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c) || c == "." || c == ":"
            }
    }
}
