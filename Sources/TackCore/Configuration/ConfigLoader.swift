import Foundation
import Yams

/// Loads the configuration: defaults < file < `TACK_*` environment < command-line overrides.
///
/// Only the executable calls this (it alone reads the environment); everything below receives the
/// resulting immutable `TackConfiguration`. Every error names the key (and the file line or the
/// environment variable) and what is wrong.
public struct ConfigLoader: Sendable {
    /// Where a value came from, for error messages.
    public enum Origin: Sendable, Equatable {
        case defaultValue
        case file(path: String, line: Int?)
        case environment(String)
        case flag
    }

    /// The file to read, or nil for defaults and environment only.
    public var filePath: String?
    /// The process environment (only `TACK_*` variables are read).
    public var environment: [String: String]
    /// `key=value` overrides from the command line.
    public var overrides: [String]
    /// The Tack installation directory; relative paths resolve against it.
    public var rootDirectory: String

    /// Creates a loader.
    public init(filePath: String?, environment: [String: String], overrides: [String] = [], rootDirectory: String) {
        self.filePath = filePath
        self.environment = environment
        self.overrides = overrides
        self.rootDirectory = rootDirectory
    }

    /// Reads, merges and validates; throws the first error found as a `TackError(.invalidConfig)`.
    public func load() throws -> TackConfiguration {
        var values: [String: ConfigValue] = [:]
        for key in ConfigSchema.keys { values[key.path] = key.defaultValue }
        var origins: [String: Origin] = [:]

        if let filePath {
            let text: String
            do {
                text = try String(contentsOfFile: filePath, encoding: .utf8)
            } catch {
                throw TackError(
                    .invalidConfig,
                    subject: filePath,
                    "cannot read the config file (\(Self.reason(error))); create one with `./platform gen_config \(filePath)`"
                )
            }
            try Self.readYAML(text, file: filePath, into: &values, origins: &origins)
        }

        for key in ConfigSchema.keys {
            guard let raw = environment[key.environmentName] else { continue }
            let subject = "\(key.environmentName) (\(key.path))"
            values[key.path] = try Self.parse(text: raw, key: key, subject: subject)
            origins[key.path] = .environment(key.environmentName)
        }
        let knownEnv = Set(ConfigSchema.keys.map(\.environmentName))
        let ignoredEnv: Set<String> = ["TACK_CONFIG", "TACK_ROOT", "TACK_BUILD_DIR"]
        for name in environment.keys.sorted() where name.hasPrefix("TACK_") && !name.hasPrefix("TACK_TEST_") {
            if !knownEnv.contains(name) && !ignoredEnv.contains(name) {
                throw TackError(.invalidConfig, subject: name, "unknown environment override" + Self.suggestion(for: name, among: Array(knownEnv)))
            }
        }

        for (path, value) in try Self.parse(overrides: overrides) {
            values[path] = value
            origins[path] = .flag
        }

        return try TackConfiguration(values: values, origins: origins, rootDirectory: rootDirectory, sourceFile: filePath)
    }

    /// `--set KEY=VALUE` arguments as values by key path; an unknown key or a bad value is named.
    public static func parse(overrides: [String]) throws -> [(path: String, value: ConfigValue)] {
        try overrides.map { override in
            guard let eq = override.firstIndex(of: "=") else {
                throw TackError(.invalidConfig, subject: "--set \(override)", "expected KEY=VALUE, e.g. --set web.port=5001")
            }
            let path = String(override[..<eq])
            guard let key = ConfigSchema.keysByPath[path] else {
                throw TackError(
                    .invalidConfig,
                    subject: "--set \(path)",
                    "unknown key" + Self.suggestion(for: path, among: ConfigSchema.keys.map(\.path))
                )
            }
            return (path, try Self.parse(text: String(override[override.index(after: eq)...]), key: key, subject: "--set \(path)"))
        }
    }

    // MARK: - YAML

    static func readYAML(_ text: String, file: String, into values: inout [String: ConfigValue], origins: inout [String: Origin]) throws {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw TackError(.invalidConfig, subject: file, "not valid YAML: " + Self.describe(error))
        } catch {
            throw TackError(.invalidConfig, subject: file, "not valid YAML: \(error)")
        }
        guard let root else { return }  // an empty file keeps every default
        guard let top = root.mapping else {
            throw TackError(
                .invalidConfig,
                subject: Self.at(file, root),
                "the file must be a mapping of keys (like `web:` with `port: 5000` below it)"
            )
        }
        try walk(top, prefix: "", file: file, into: &values, origins: &origins)
    }

    private static func walk(
        _ mapping: Node.Mapping,
        prefix: String,
        file: String,
        into values: inout [String: ConfigValue],
        origins: inout [String: Origin]
    ) throws {
        var seen = Set<String>()
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.scalar?.string else {
                throw TackError(.invalidConfig, subject: at(file, keyNode), "keys must be plain names")
            }
            let path = prefix.isEmpty ? name : prefix + "." + name
            if !seen.insert(name).inserted {
                throw TackError(.invalidConfig, subject: at(file, keyNode) + ": " + path, "set twice in the same section")
            }
            if let key = ConfigSchema.keysByPath[path] {
                let subject = at(file, valueNode) + ": " + path
                if case .queueMap = key.kind {
                    values[path] = try parseQueueMap(valueNode, file: file)
                } else if case .cronJobs = key.kind {
                    values[path] = try parseCronJobs(valueNode, file: file, path: path)
                } else if case .hostPortList = key.kind, let sequence = valueNode.sequence {
                    var items: [String] = []
                    for item in sequence {
                        guard let text = item.scalar?.string else {
                            throw TackError(.invalidConfig, subject: subject, "expected \(key.kind.expectation), got a nested list or mapping")
                        }
                        items.append(text)
                    }
                    values[path] = try parse(text: items.joined(separator: ","), key: key, subject: subject)
                } else if valueNode.null != nil {
                    continue  // `key:` with no value keeps the default
                } else if let scalar = valueNode.scalar {
                    values[path] = try parseScalar(scalar, node: valueNode, key: key, subject: subject)
                } else {
                    throw TackError(
                        .invalidConfig,
                        subject: subject,
                        "expected \(key.kind.expectation), got a \(valueNode.mapping != nil ? "mapping" : "list")"
                    )
                }
                origins[path] = .file(path: file, line: valueNode.mark?.line)
            } else if ConfigSchema.sections.contains(where: { $0.name == path && !$0.name.isEmpty }) {
                if valueNode.null != nil { continue }
                guard let sub = valueNode.mapping else {
                    throw TackError(.invalidConfig, subject: at(file, valueNode) + ": " + path, "expected a section of keys below `\(path):`")
                }
                try walk(sub, prefix: path, file: file, into: &values, origins: &origins)
            } else {
                let candidates = ConfigSchema.keys.map(\.path) + ConfigSchema.sections.map(\.name).filter { !$0.isEmpty }
                throw TackError(.invalidConfig, subject: at(file, keyNode) + ": " + path, "unknown key" + suggestion(for: path, among: candidates))
            }
        }
    }

    private static func parseScalar(_ scalar: Node.Scalar, node: Node, key: ConfigSchema.Key, subject: String) throws -> ConfigValue {
        let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
        switch key.kind {
        case .integer, .seconds, .boolean:
            if quoted {
                throw TackError(.invalidConfig, subject: subject, "expected \(key.kind.expectation), got the quoted string \"\(scalar.string)\"")
            }
        default:
            break
        }
        return try parse(text: scalar.string, key: key, subject: subject)
    }

    private static func parseQueueMap(_ node: Node, file: String) throws -> ConfigValue {
        if node.null != nil { return .map([:]) }
        guard let mapping = node.mapping else {
            throw TackError(.invalidConfig, subject: at(file, node) + ": queues", "expected a map of job kind to queue name, like `webhooks: hooks`")
        }
        let kinds = ConfigSchema.jobKinds.map(\.kind)
        var result: [String: String] = [:]
        for (k, v) in mapping {
            let kind = k.scalar?.string ?? ""
            guard kinds.contains(kind) else {
                throw TackError(
                    .invalidConfig,
                    subject: at(file, k) + ": queues.\(kind)",
                    "unknown job kind; known kinds: " + kinds.joined(separator: ", ")
                )
            }
            guard let queue = v.scalar?.string, isIdentifier(queue) else {
                throw TackError(.invalidConfig, subject: at(file, v) + ": queues.\(kind)", "expected a queue name of letters, digits, '-' or '_'")
            }
            result[kind] = queue
        }
        return .map(result)
    }

    // MARK: - scheduler.jobs

    /// `scheduler.jobs` from YAML: every name a job of the cron table, every value a schedule, `off` or `on`.
    private static func parseCronJobs(_ node: Node, file: String, path: String) throws -> ConfigValue {
        if node.null != nil { return .map([:]) }
        guard let mapping = node.mapping else {
            throw TackError(
                .invalidConfig,
                subject: at(file, node) + ": \(path)",
                "expected a map of job name to schedule, like `reminders: \"*/5 * * * *\"` or `board_snapshots: off`"
            )
        }
        var result: [String: String] = [:]
        for (k, v) in mapping {
            let name = k.scalar?.string ?? ""
            guard let setting = v.scalar?.string else {
                throw TackError(
                    .invalidConfig,
                    subject: at(file, v) + ": \(path).\(name)",
                    "expected a schedule such as \"*/5 * * * *\" or @hourly, or off"
                )
            }
            result[name] = try validateCronJob(
                name: name,
                setting: setting,
                subject: at(file, k) + ": \(path).\(name)",
                valueSubject: at(file, v) + ": \(path).\(name)"
            )
        }
        return .map(result)
    }

    /// Checks one `scheduler.jobs` entry; errors name the job and, for a bad expression, its field.
    private static func validateCronJob(name: String, setting: String, subject: String, valueSubject: String) throws -> String {
        guard let job = ScheduledJob.named(name) else {
            throw TackError(
                .invalidConfig,
                subject: subject,
                "unknown job" + suggestion(for: name, among: ScheduledJob.names)
                    + "; known jobs: " + ScheduledJob.names.joined(separator: ", ")
            )
        }
        do {
            _ = try ScheduledJob.schedule(for: job, setting: setting)
        } catch {
            throw TackError(.invalidConfig, subject: valueSubject, "\(error)")
        }
        return setting.trimmingCharacters(in: .whitespaces)
    }

    /// `scheduler.jobs` from the environment or `--set`: `name: schedule` pairs separated by `;`
    /// (cron lists use commas), e.g. `probe: @every 1s; reminders: off`.
    private static func parseCronJobs(text: String, subject: String) throws -> ConfigValue {
        var result: [String: String] = [:]
        for pair in text.split(separator: ";") where !pair.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else {
                throw TackError(
                    .invalidConfig,
                    subject: subject,
                    "expected `job: schedule` pairs separated by `;` (jobs: \(ScheduledJob.names.joined(separator: ", "))), got \"\(pair)\""
                )
            }
            result[parts[0]] = try validateCronJob(
                name: parts[0],
                setting: parts[1],
                subject: subject + ": \(parts[0])",
                valueSubject: subject + ": \(parts[0])"
            )
        }
        return .map(result)
    }

    // MARK: - Values

    /// Parses one textual value for a key (from YAML, the environment or a flag).
    static func parse(text: String, key: ConfigSchema.Key, subject: String) throws -> ConfigValue {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func fail(_ got: String? = nil) -> TackError {
            TackError(.invalidConfig, subject: subject, "expected \(key.kind.expectation), got \"\(got ?? trimmed)\"")
        }
        switch key.kind {
        case .string(let pattern):
            switch pattern {
            case .identifier: guard isIdentifier(trimmed) else { throw fail() }
            case .identifierOrEmpty: guard trimmed.isEmpty || isIdentifier(trimmed) else { throw fail() }
            case .host: guard !trimmed.isEmpty, isHost(trimmed) else { throw fail() }
            case .hostOrEmpty: guard trimmed.isEmpty || isHost(trimmed) else { throw fail() }
            case .textOrEmpty: guard !trimmed.contains(where: \.isNewline) else { throw fail() }
            }
            return .string(trimmed)
        case .secret(let minimumLength):
            // Empty means "not set here" (the example leaves it empty for TACK_SECRET_KEY);
            // a missing secret is reported once the sources are merged. The value is never echoed.
            guard text.isEmpty || text.count >= minimumLength else {
                let what = text.isEmpty ? "missing" : "too short (\(text.count) characters)"
                throw TackError(
                    .invalidConfig,
                    subject: subject,
                    "secret \(what); it needs at least \(minimumLength) characters: generate a config with `./platform gen_config FILE` or set \(key.environmentName)"
                )
            }
            return .string(text)
        case .path:
            guard !trimmed.isEmpty else { throw fail() }
            return .string(trimmed)
        case .url(let schemes):
            // A URL key whose default is empty (an optional URL) may be left empty.
            if trimmed.isEmpty, key.defaultValue == .string("") { return .string("") }
            guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
                schemes.contains(scheme), let host = components.host, !host.isEmpty
            else {
                throw TackError(.invalidConfig, subject: subject, "expected \(key.kind.expectation), got \"\(redactURL(trimmed))\"")
            }
            return .string(trimmed)
        case .choice(let options):
            guard options.contains(trimmed) else { throw fail() }
            return .string(trimmed)
        case .integer(let range):
            guard let value = Int(trimmed), range.contains(value) else { throw fail() }
            return .integer(value)
        case .seconds(let range):
            guard let value = Double(trimmed), value.isFinite, range.contains(value) else { throw fail() }
            return .seconds(value)
        case .boolean:
            switch trimmed.lowercased() {
            case "true", "yes", "on", "1": return .boolean(true)
            case "false", "no", "off", "0": return .boolean(false)
            default: throw fail()
            }
        case .queueMap:
            // TACK_QUEUES / --set queues=webhooks:hooks,exports:low
            var result: [String: String] = [:]
            let kinds = ConfigSchema.jobKinds.map(\.kind)
            for pair in trimmed.split(separator: ",") where !pair.isEmpty {
                let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, kinds.contains(parts[0]), isIdentifier(parts[1]) else {
                    throw TackError(
                        .invalidConfig,
                        subject: subject,
                        "expected kind:queue pairs separated by commas (kinds: \(kinds.joined(separator: ", "))), got \"\(pair)\""
                    )
                }
                result[parts[0]] = parts[1]
            }
            return .map(result)
        case .cronJobs:
            return try parseCronJobs(text: trimmed, subject: subject)
        case .hostPortList:
            // TACK_REDIS_SENTINELS=a:26379,b:26379, or the items of a YAML list joined by commas.
            var items: [String] = []
            for item in trimmed.split(separator: ",") {
                let entry = item.trimmingCharacters(in: .whitespaces)
                if entry.isEmpty { continue }
                guard let colon = entry.lastIndex(of: ":"), isHost(String(entry[..<colon])),
                    let port = Int(entry[entry.index(after: colon)...]), (1...65535).contains(port)
                else {
                    throw TackError(.invalidConfig, subject: subject, "expected host:port addresses separated by commas, got \"\(entry)\"")
                }
                items.append(entry)
            }
            return .string(items.joined(separator: ","))
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    static func isHost(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "-.:_".contains($0) }
    }

    /// A URL with its password replaced, for error messages.
    public static func redactURL(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }

    private static func at(_ file: String, _ node: Node) -> String {
        if let line = node.mark?.line { return "\(file):\(line)" }
        return file
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        case .reader(let problem, _, _, _):
            return problem
        default:
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        }
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError { return "permission denied" }
        return nsError.localizedDescription
    }

    /// " (did you mean `web.port`?)" when a close match exists.
    static func suggestion(for name: String, among candidates: [String]) -> String {
        let lowered = name.lowercased()
        let length = lowered.count
        let limit = max(2, name.count / 3)
        // The distance is at least the difference in length: a candidate further off than the limit
        // that way is never suggested, and is not compared (a 700-character unknown key compared with
        // every key took a quarter of a second, found by fuzz/config).
        let best =
            candidates
            .filter { abs($0.count - length) <= limit }
            .map { ($0, editDistance(lowered, $0.lowercased())) }
            .min { $0.1 < $1.1 }
        guard let best, best.1 <= limit else { return "" }
        return "; did you mean `\(best.0)`?"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
