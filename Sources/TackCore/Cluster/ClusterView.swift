import Foundation
import TackRedis

/// The cluster as Redis sees it: live processes and the scheduler leader.
public struct ClusterView: Sendable {
    /// One live process.
    public struct ProcessEntry: Sendable, Codable {
        /// `node/role/pid`.
        public var id: String
        /// Node name.
        public var node: String
        /// Zone.
        public var zone: String
        /// Role name.
        public var role: String
        /// Process id.
        public var pid: Int
        /// Listen address.
        public var listen: String
        /// Release.
        public var version: String
        /// Start time, ms since 1970.
        public var startedAt: Int
        /// Last heartbeat, ms since 1970.
        public var heartbeatAt: Int
        /// Open client connections at the last heartbeat (push processes).
        public var connections: Int?
    }

    /// Live processes, sorted by node, role, pid.
    public var processes: [ProcessEntry]
    /// Owner token of the scheduler lease (a process id), if held.
    public var schedulerLeader: String?

    /// Reads the registry.
    public static func read(redis: RedisClient, heartbeatTTL: Duration) async throws -> ClusterView {
        let now = Int(Date().timeIntervalSince1970 * 1000)
        let ttlMs = heartbeatTTL.wholeMilliseconds
        let ids = try await redis.sendChecked("ZRANGEBYSCORE", RedisKeys.processIndex, now - ttlMs, "+inf").array?.compactMap(\.string) ?? []
        var commands: [[any RedisArgumentConvertible]] = ids.map { ["HGETALL", RedisKeys.process($0)] }
        commands.append(["GET", RedisKeys.schedulerLeader])
        let replies = try await redis.pipeline(commands)
        var processes: [ProcessEntry] = []
        for (id, reply) in zip(ids, replies) {
            let flat = reply.array?.compactMap(\.string) ?? []
            guard flat.count >= 2 else { continue }  // expired between the two reads
            var fields: [String: String] = [:]
            for i in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[i]] = flat[i + 1] }
            processes.append(
                ProcessEntry(
                    id: id,
                    node: fields["node"] ?? "?",
                    zone: fields["zone"] ?? "",
                    role: fields["role"] ?? "?",
                    pid: Int(fields["pid"] ?? "") ?? 0,
                    listen: fields["listen"] ?? "",
                    version: fields["version"] ?? "",
                    startedAt: Int(fields["started_at"] ?? "") ?? 0,
                    heartbeatAt: Int(fields["heartbeat_at"] ?? "") ?? 0,
                    connections: fields["connections"].flatMap { Int($0) }
                )
            )
        }
        processes.sort { ($0.node, $0.role, $0.pid) < ($1.node, $1.role, $1.pid) }
        return ClusterView(processes: processes, schedulerLeader: replies.last?.string)
    }
}
