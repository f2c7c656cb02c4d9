import Foundation
import TackRedis

/// The Redis master and its replicas as `init_node` and `status` report them (issue 14):
/// with Sentinel, whether the sentinels can fail over and how far each replica lags.
public struct RedisTopology: Codable, Sendable {
    /// One replica as the master sees it (`INFO replication`).
    public struct Replica: Codable, Sendable {
        /// `ip:port`.
        public var address: String
        /// `online`, `wait_bgsave`, `send_bulk`…
        public var state: String
        /// Bytes of replication stream the replica has not acknowledged yet.
        public var lagBytes: Int?
        /// Seconds since the replica's last acknowledgement.
        public var lagSeconds: Int?
    }

    /// The master the client uses, `host:port`.
    public var master: String?
    /// Whether the master was found through Sentinel.
    public var sentinel: Bool
    /// The sentinel that answered `SENTINEL ckquorum`, and its answer.
    public var quorumSentinel: String?
    public var quorum: String?
    /// Whether the sentinels can authorise a failover (`ckquorum` answered OK).
    public var quorumOK: Bool?
    /// The master's replicas.
    public var replicas: [Replica]
    /// The master's `min-replicas-to-write` (`nil` when it could not be read).
    public var minReplicasToWrite: Int?
    /// `appendonly` on the master.
    public var aofEnabled: Bool?

    /// Problems that stop a failover from working (errors for `init_node`).
    public var errors: [String] {
        guard sentinel else { return [] }
        var errors: [String] = []
        if quorumOK != true {
            errors.append(
                "Redis Sentinel: the sentinels cannot fail over: \(quorum ?? "no answer to SENTINEL ckquorum"); run 3 sentinels with a quorum of 2"
            )
        }
        if replicas.isEmpty {
            errors.append(
                "Redis Sentinel: the master has no replica, so a failover has nothing to promote; add `replicaof MASTER PORT` to a second Redis"
            )
        }
        return errors
    }

    /// Advice that does not stop Tack (warnings).
    public var warnings: [String] {
        guard sentinel else { return [] }
        var warnings: [String] = []
        if minReplicasToWrite == 0 {
            warnings.append(
                "Redis Sentinel: min-replicas-to-write is 0 on the master, so a master cut off from its replicas keeps accepting writes that a failover discards; set `min-replicas-to-write 1` and `min-replicas-max-lag 10`"
            )
        } else if minReplicasToWrite == nil {
            warnings.append("Redis Sentinel: could not read min-replicas-to-write on the master (CONFIG GET refused); make sure it is 1")
        }
        return warnings
    }

    /// Reads the topology through `redis` (and its sentinels, when configured).
    public static func read(redis: RedisClient, masterName: String) async throws -> RedisTopology {
        let replication = try await redis.info(section: "replication")
        let persistence = try await redis.info(section: "persistence")
        var replicas: [Replica] = []
        let masterOffset = Int(replication["master_repl_offset"] ?? "")
        let count = Int(replication["connected_slaves"] ?? "") ?? 0
        for index in 0..<count {
            // slave0:ip=127.0.0.1,port=6380,state=online,offset=1234,lag=0
            guard let line = replication["slave\(index)"] else { continue }
            var fields: [String: String] = [:]
            for pair in line.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            let offset = Int(fields["offset"] ?? "")
            replicas.append(
                Replica(
                    address: "\(fields["ip"] ?? "?"):\(fields["port"] ?? "?")",
                    state: fields["state"] ?? "?",
                    lagBytes: masterOffset.flatMap { master in offset.map { max(0, master - $0) } },
                    lagSeconds: Int(fields["lag"] ?? "")
                )
            )
        }
        var minReplicas: Int?
        if case .array(let parts) = try await redis.send("CONFIG", "GET", "min-replicas-to-write"), parts.count == 2 {
            minReplicas = parts[1].int
        }
        var topology = RedisTopology(
            master: redis.currentMaster,
            sentinel: redis.usesSentinel,
            replicas: replicas,
            minReplicasToWrite: minReplicas,
            aofEnabled: persistence["aof_enabled"].map { $0 == "1" }
        )
        if redis.usesSentinel {
            do {
                let (sentinel, reply) = try await redis.sendToSentinel(["SENTINEL", "ckquorum", masterName])
                topology.quorumSentinel = sentinel
                switch reply {
                case .error(let message):
                    topology.quorum = message
                    topology.quorumOK = false
                default:
                    topology.quorum = reply.string ?? "\(reply)"
                    topology.quorumOK = reply.string?.hasPrefix("OK") == true
                }
            } catch {
                topology.quorum = "\(error)"
                topology.quorumOK = false
            }
        }
        return topology
    }

    /// One line per fact, for the text output of `init_node` and `status`.
    public var lines: [String] {
        var lines: [String] = []
        lines.append("master \(master ?? "unknown")" + (sentinel ? " (through Sentinel)" : ""))
        if sentinel {
            lines.append("quorum \(quorum ?? "unknown")" + (quorumSentinel.map { " (asked \($0))" } ?? ""))
        }
        if replicas.isEmpty {
            lines.append("replicas none")
        } else {
            for replica in replicas {
                lines.append(
                    "replica \(replica.address) \(replica.state), lag \(replica.lagBytes.map { "\($0) bytes" } ?? "?")"
                        + ", last ack \(replica.lagSeconds.map { "\($0)s" } ?? "?") ago"
                )
            }
        }
        return lines
    }
}
