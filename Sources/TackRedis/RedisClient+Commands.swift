/// Typed helpers for the commands every caller needs; anything else goes through
/// `send`/`sendChecked`, which take any command.
extension RedisClient {
    /// Round-trips a `PING`: a readiness check that also opens a pooled connection.
    ///
    /// - Throws: ``RedisError/Code/replyError`` if Redis answers with an error (e.g. `NOAUTH`).
    public func ping() async throws {
        _ = try await sendChecked("PING")
    }

    /// The value at `key`, or `nil` when the key does not exist.
    ///
    /// - Throws: ``RedisError/Code/replyError`` when the key holds a non-string (`WRONGTYPE`).
    public func get(_ key: String) async throws -> [UInt8]? {
        switch try await send("GET", key) {
        case .bulkString(let bytes): return bytes
        case .null: return nil
        case .error(let message): throw RedisError(.replyError, "GET: \(message)")
        case let other: throw RedisError(.protocolError, "GET: unexpected reply \(other)")
        }
    }

    /// Sets `key` to `value` (no expiry; use `send("SET", key, value, "EX", seconds)` for one).
    public func set(_ key: String, _ value: any RedisArgumentConvertible) async throws {
        _ = try await sendChecked("SET", key, value)
    }

    /// Deletes the keys and returns how many existed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        if keys.isEmpty { return 0 }
        var command: [any RedisArgumentConvertible] = ["DEL"]
        command.append(contentsOf: keys)
        let reply = try await sendChecked(command)
        guard let count = reply.int else { throw RedisError(.protocolError, "DEL: unexpected reply \(reply)") }
        return count
    }

    /// `INFO [section]` parsed into its `key:value` lines (section headers and blank lines are
    /// skipped), e.g. `info(section: "server")["redis_version"]`.
    public func info(section: String? = nil) async throws -> [String: String] {
        let reply = try await sendChecked(section.map { ["INFO", $0] } ?? ["INFO"])
        guard let text = reply.string else { throw RedisError(.protocolError, "INFO: unexpected reply \(reply)") }
        var result: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }) {
            if line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return result
    }
}
