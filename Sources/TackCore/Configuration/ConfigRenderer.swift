import Foundation

/// Renders the schema as a commented YAML file: `config-prod.yml.example` and `gen_config`'s output.
public enum ConfigRenderer {
    /// The file text. With `secrets`, secret keys get those values (gen_config); without, they are
    /// left empty with a comment (the example). `values` replace defaults (`gen_config --set`).
    public static func render(secrets: [String: String] = [:], values: [String: ConfigValue] = [:]) -> String {
        var out = """
            # Tack configuration. Every key is shown with its default.
            # One file serves every node: copy it to each machine (mode 0600).
            # Any key can be overridden by an environment variable: web.port -> TACK_WEB_PORT.
            # Check it with: ./platform check_config FILE

            """
        for section in ConfigSchema.sections {
            let keys = ConfigSchema.keys.filter {
                section.name.isEmpty
                    ? !$0.path.contains(".") && $0.path != "queues" : ($0.path == section.name || $0.path.hasPrefix(section.name + "."))
            }
            out += "\n" + comment(section.doc, indent: "")
            if section.name == "queues" {
                out += comment(keys[0].doc, indent: "")
                out += "queues:\n"
                var routes: [String: String] = [:]
                if case .map(let given)? = values["queues"] { routes = given }
                for kind in ConfigSchema.jobKinds {
                    out += "  \(kind.kind): \(routes[kind.kind] ?? kind.defaultQueue)\n"
                }
                continue
            }
            let indent = section.name.isEmpty ? "" : "  "
            if !section.name.isEmpty { out += "\(section.name):\n" }
            for key in keys {
                let name = key.path.split(separator: ".").last.map(String.init) ?? key.path
                out += comment(key.doc, indent: indent)
                let value: String
                if case .hostPortList = key.kind, case .string(let list) = values[key.path] ?? key.defaultValue {
                    // A YAML flow list: [] or ["a:26379", "b:26379"].
                    value = "[" + list.split(separator: ",").map { quote(String($0)) }.joined(separator: ", ") + "]"
                } else if let given = values[key.path] {
                    value = render(given)
                } else if case .secret = key.kind {
                    value = quote(secrets[key.path] ?? "")
                } else {
                    value = render(key.defaultValue)
                }
                out += "\(indent)\(name): \(value)\n"
            }
        }
        return out
    }

    /// A fresh random secret: 32 bytes as 64 hex characters.
    public static func freshSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func render(_ value: ConfigValue) -> String {
        switch value {
        case .string(let s): return quote(s)
        case .integer(let i): return String(i)
        case .seconds(let d): return d.formattedSeconds
        case .boolean(let b): return b ? "true" : "false"
        case .map(let m):
            return m.isEmpty ? "{}" : "{ " + m.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + " }"
        }
    }

    static func quote(_ s: String) -> String {
        var escaped = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(ch)
            }
        }
        return "\"" + escaped + "\""
    }

    static func comment(_ text: String, indent: String) -> String {
        // Wrap at ~96 columns so the file reads well in a terminal.
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.count + word.count + 1 > 94, !line.isEmpty {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { "\(indent)# \($0)\n" }.joined()
    }
}
