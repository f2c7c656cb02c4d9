import Foundation
import Logging

/// Writes one line per log record to standard error, as text for people or JSON for shippers.
///
/// One handler for every process so `run` (the process manager) and supervisord see the same
/// format; metadata keys are dotted lower-case (`tack.job.id`).
public struct TackLogHandler: LogHandler {
    /// Output format.
    public enum Format: String, Sendable { case text, json }

    /// Installs the handler for the whole process. Call once, from the executable.
    public static func bootstrap(level: String, format: String) {
        let level = Logger.Level(rawValue: level) ?? .info
        let format = Format(rawValue: format) ?? .text
        LoggingSystem.bootstrap { label in
            var handler = TackLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
    }

    /// The logger label, e.g. `tack.web`.
    public let label: String
    /// Output format.
    public let format: Format
    /// Minimum level written.
    public var logLevel: Logger.Level = .info
    /// Metadata attached to every record of this logger.
    public var metadata: Logger.Metadata = [:]

    /// Creates a handler.
    public init(label: String, format: Format) {
        self.label = label
        self.format = format
    }

    /// Per-logger metadata access.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one record.
    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let timestamp = Self.timestamp()
        var line: String
        switch format {
        case .text:
            line = "\(timestamp) \(event.level) \(label): \(event.message)"
            for (key, value) in all.sorted(by: { $0.key < $1.key }) {
                line += " \(key)=\(Self.flatten(value))"
            }
        case .json:
            var object: [String: String] = ["ts": timestamp, "level": event.level.rawValue, "logger": label, "msg": "\(event.message)"]
            for (key, value) in all { object[key] = Self.flatten(value) }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        line += "\n"
        try? FileHandle.standardError.write(contentsOf: Data(line.utf8))
    }

    static func flatten(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return s.contains(" ") ? "\"\(s)\"" : s
        case .stringConvertible(let c): return "\(c)"
        case .array(let a): return "[" + a.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    static func timestamp() -> String {
        Timestamp.string(from: Date(), milliseconds: true)
    }
}
