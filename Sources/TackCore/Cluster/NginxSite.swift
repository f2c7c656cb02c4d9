import Foundation

/// `nginx.conf.example` rendered for one site: its placeholders filled, its `listen` set and the
/// `app` and `push` upstreams listing the given processes (what `gen_nginx` writes).
public enum NginxSite {
    /// What the site is rendered with.
    public struct Settings: Sendable, Equatable {
        /// `server_name`, e.g. `tack.example.com`.
        public var serverName: String
        /// The Tack installation directory nginx serves `public/` from.
        public var root: String
        /// nginx's `listen` parameter, e.g. `80` or `127.0.0.1:8080`.
        public var listen: String
        /// Web processes, `host:port`.
        public var web: [String]
        /// Push processes, `host:port`.
        public var push: [String]

        /// The settings of a site.
        public init(serverName: String, root: String, listen: String = "80", web: [String], push: [String]) {
            self.serverName = serverName
            self.root = root
            self.listen = listen
            self.web = web
            self.push = push
        }
    }

    /// The rendered site, or an error naming what is wrong with the settings or the template.
    public static func render(template: String, settings: Settings) throws -> String {
        try check(settings)
        var lines: [String] = []
        var upstream: (name: String, written: Bool)?
        for line in template.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if upstream == nil, trimmed.hasPrefix("upstream "), trimmed.hasSuffix("{") {
                upstream = (String(trimmed.dropFirst("upstream ".count).dropLast()).trimmingCharacters(in: .whitespaces), false)
                lines.append(line)
                continue
            }
            if let current = upstream {
                if trimmed == "}" {
                    upstream = nil
                } else if trimmed.hasPrefix("server ") || trimmed.hasPrefix("# server ") {
                    // The template's example server lines give way to the processes, once, each
                    // with the parameters of the first example line (`max_fails=1 fail_timeout=2s`).
                    if !current.written {
                        let servers: [String]
                        switch current.name {
                        case "app": servers = settings.web
                        case "push": servers = settings.push
                        default: throw TackError(.usage, subject: "nginx.conf.example", "unknown upstream \(current.name)")
                        }
                        let words = trimmed.dropFirst("server ".count).split(separator: ";")[0].split(separator: " ")
                        let parameters = words.dropFirst().map { " " + $0 }.joined()
                        lines += servers.map { "    server \($0)\(parameters);" }
                        upstream = (current.name, true)
                    }
                    continue
                }
            }
            lines.append(line)
        }
        var text = lines.joined(separator: "\n")
        for upstreamName in ["app", "push"] where !text.contains("upstream \(upstreamName) {") {
            throw TackError(.usage, subject: "nginx.conf.example", "has no `upstream \(upstreamName)` block")
        }
        guard text.contains("    listen 80;") else { throw TackError(.usage, subject: "nginx.conf.example", "has no `listen 80;` line") }
        text = text.replacingOccurrences(of: "    listen 80;", with: "    listen \(settings.listen);")
        text = text.replacingOccurrences(of: "{{SERVER_NAME}}", with: settings.serverName)
        text = text.replacingOccurrences(of: "{{PATH_TO_TACK_ROOT}}", with: settings.root)
        if let start = text.range(of: "{{") {
            let name = text[start.lowerBound...].prefix(while: { $0 != "}" })
            throw TackError(.usage, subject: "nginx.conf.example", "has a placeholder gen_nginx does not know: \(name)}}")
        }
        return text
    }

    /// Names, paths and addresses nginx would misread are refused before anything is written.
    static func check(_ settings: Settings) throws {
        func plain(_ value: String) -> Bool {
            !value.isEmpty && !value.contains(where: { $0.isWhitespace || ";{}#\"'$\\".contains($0) })
        }
        guard plain(settings.serverName) else {
            throw TackError(.usage, subject: "--server-name", "expected names like tack.example.com, without spaces or ;{}#$")
        }
        guard settings.root.hasPrefix("/"), plain(settings.root) else {
            throw TackError(.usage, subject: "--root", "expected an absolute path without spaces or ;{}#$")
        }
        guard plain(settings.listen) else { throw TackError(.usage, subject: "--listen", "expected a port or address:port, e.g. 80") }
        for (option, servers) in [("--web", settings.web), ("--push", settings.push)] {
            guard !servers.isEmpty else { throw TackError(.usage, subject: option, "at least one process is needed") }
            for server in servers {
                guard plain(server), let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]),
                    (1...65535).contains(port), colon != server.startIndex
                else {
                    throw TackError(.usage, subject: "\(option) \(server)", "expected host:port, e.g. 10.0.0.12:5000")
                }
            }
        }
    }
}
