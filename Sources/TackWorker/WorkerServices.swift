import Logging
import PostgresNIO
import ServiceLifecycle
import TackCore
import TackRedis

/// Builds the worker role's services for `run worker` and for tests.
///
/// `queues` are the queue names this process consumes (all configured queues by default);
/// `processID` (the registry id) names its consumer in the queue groups. Every worker also runs
/// the event relay.
public func buildWorkerServices(config: TackConfiguration, queues: [String], processID: String, postgres: PostgresClient,
                                redis: RedisClient, logger: Logger) -> [any Service] {
    let log = EventLog(postgres: postgres, logger: logger)
    let publisher = EventPublisher(redis: redis, log: log, historySize: config.events.historySize, logger: logger)
    let jobQueue = JobQueue(redis: redis, routes: config.queues, logger: logger)
    let handlers: [any JobHandler] = [
        DiagnosticsJobs(postgres: postgres, worker: processID),
    ]
    let worker = JobWorker(queue: jobQueue, queues: queues, handlers: handlers, settings: config.worker, redis: redis,
                           consumer: processID, logger: logger)
    return [worker, EventRelay(log: log, publisher: publisher, logger: logger)]
}
