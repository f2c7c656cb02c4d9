import Logging
import PostgresNIO
import ServiceLifecycle
import TackCore
import TackRedis

/// Builds the worker role's services for `run worker` and for tests.
///
/// `queues` are the queue names this process will consume (all configured queues by default);
/// the job consumer arrives with the job queue. Every worker runs the event relay.
public func buildWorkerServices(config: TackConfiguration, queues: [String], postgres: PostgresClient, redis: RedisClient, logger: Logger) -> [any Service] {
    logger.info("worker ready", metadata: ["tack.worker.queues": "\(queues.joined(separator: ","))"])
    let log = EventLog(postgres: postgres, logger: logger)
    let publisher = EventPublisher(redis: redis, log: log, historySize: config.events.historySize, logger: logger)
    return [EventRelay(log: log, publisher: publisher, logger: logger)]
}
