import Logging
import PostgresNIO
import ServiceLifecycle
import TackCore
import TackRedis

/// Builds the worker role's services for `run worker` and for tests.
///
/// `queues` are the queue names this process consumes (all configured queues by default).
/// The job consumer itself comes with the worker role's work; in this release a worker process
/// joins the cluster and reports the queues it will consume.
public func buildWorkerServices(config: TackConfiguration, queues: [String], postgres: PostgresClient, redis: RedisClient, logger: Logger) -> [any Service] {
    logger.info("worker ready", metadata: ["tack.worker.queues": "\(queues.joined(separator: ","))"])
    return []
}
