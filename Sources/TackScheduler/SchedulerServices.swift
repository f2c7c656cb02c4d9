import Logging
import ServiceLifecycle
import TackCore
import TackRedis

/// Builds the scheduler role's services for `run scheduler` and for tests.
public func buildSchedulerServices(config: TackConfiguration, processID: String, redis: RedisClient, logger: Logger) -> (lease: SchedulerLease, services: [any Service]) {
    let lease = SchedulerLease(processID: processID, redis: redis, timings: config.scheduler, logger: logger)
    return (lease, [lease])
}
