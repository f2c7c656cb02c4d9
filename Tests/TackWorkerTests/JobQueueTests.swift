import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import TackCore
import TackRedis
import TackTestSupport
import Testing

@testable import TackWorker

/// The job queue against real Redis and PostgreSQL, with in-process workers.
@Suite("Job queue and worker", .serialized)
struct JobQueueTests {
    let logger = Logger(label: "tack.test.jobs")

    /// A queue API whose every category goes to one fresh queue, so tests sharing Redis stay apart.
    func makeQueue(_ redis: RedisClient) -> (JobQueue, String) {
        let name = TestServers.uniqueName("test")
        var routes: [String: String] = [:]
        for kind in ConfigSchema.jobKinds { routes[kind.kind] = name }
        return (JobQueue(redis: redis, routes: routes, logger: logger), name)
    }

    /// Runs `count` workers under a ServiceGroup while `body` runs, then shuts them down gracefully.
    func withWorkers<T: Sendable>(
        _ count: Int,
        config: TackConfiguration,
        queue: JobQueue,
        postgres: PostgresClient,
        redis: RedisClient,
        _ body: @Sendable ([JobWorker]) async throws -> T
    ) async throws -> T {
        let workers = (0..<count).map { n in
            JobWorker(
                queue: queue,
                queues: queue.queueNames,
                handlers: [DiagnosticsJobs(runs: ProbeRuns(postgres: postgres, logger: logger), worker: "w\(n)")],
                settings: config.worker,
                redis: redis,
                consumer: "w\(n)-" + NewJob.randomID().prefix(6),
                logger: logger
            )
        }
        let group = ServiceGroup(services: workers, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let result = try await body(workers)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                tasks.cancelAll()
                throw error
            }
        }
    }

    func probe(_ id: String, sleep: Int? = nil, fail: String? = nil) throws -> NewJob {
        try NewJob(kind: "diagnostics.probe", arguments: DiagnosticsJobs.Probe(sleepMilliseconds: sleep, fail: fail), id: id)
    }

    func scalar(_ postgres: PostgresClient, _ query: PostgresQuery) async throws -> Int64 {
        for try await value in try await postgres.query(query).decode(Int64.self) { return value }
        return -1
    }

    /// Polls `condition` every 50 ms for up to `seconds`.
    func eventually(_ seconds: Double = 30, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("two workers drain 2,000 jobs: each runs once, the queue ends empty with nothing in flight")
    func drainsEveryJob() async throws {
        try await TestServers.withServers(logger: logger) { config, postgres, redis in
            let (queue, _) = makeQueue(redis)
            try await queue.enqueue(try (0..<2000).map { try probe("drain-\($0)") })
            let stats = try await withWorkers(2, config: config, queue: queue, postgres: postgres, redis: redis) { workers async throws in
                #expect(try await eventually { try await scalar(postgres, "SELECT count(*) FROM job_probe_runs") >= 2000 })
                #expect(try await eventually { try await queue.stats().first?.inFlight == 0 })
                return (try await queue.stats(), workers.map(\.done))
            }
            #expect(try await scalar(postgres, "SELECT count(DISTINCT job_id) FROM job_probe_runs WHERE job_id LIKE 'drain-%'") == 2000)
            #expect(try await scalar(postgres, "SELECT count(*) FROM job_probe_runs") == 2000)
            let queueStats = try #require(stats.0.first)
            #expect(queueStats.waiting == 0 && queueStats.inFlight == 0 && queueStats.dead == 0 && queueStats.retries == 0)
            #expect(queueStats.consumers == 2)
            // Both workers took a share.
            #expect(stats.1.allSatisfy { $0.succeeded > 0 })
            #expect(stats.1.reduce(0) { $0 + $1.succeeded } == 2000)
        }
    }

    @Test("a poison job is retried with backoff, then dies with its error after max_attempts, without stopping the rest")
    func poisonJobDies() async throws {
        let settings = ["worker.max_attempts": "3", "worker.retry_base_delay": "0.05", "worker.retry_max_delay": "0.2"]
        try await TestServers.withServers(settings: settings, logger: logger) { config, postgres, redis in
            let (queue, name) = makeQueue(redis)
            try await queue.enqueue([try probe("poison", fail: "database said no")] + (0..<100).map { try probe("good-\($0)") })
            try await withWorkers(1, config: config, queue: queue, postgres: postgres, redis: redis) { workers async throws in
                #expect(try await eventually { try await queue.stats().first?.dead == 1 })
                #expect(try await eventually { try await scalar(postgres, "SELECT count(*) FROM job_probe_runs WHERE job_id LIKE 'good-%'") == 100 })
                #expect(workers[0].done.retried == 2)
            }
            // Attempts 1, 2 and 3 ran, each counted once.
            #expect(try await scalar(postgres, "SELECT count(*) FROM job_probe_runs WHERE job_id = 'poison'") == 3)
            #expect(try await scalar(postgres, "SELECT max(attempt) FROM job_probe_runs WHERE job_id = 'poison'") == 3)
            let dead = try await queue.deadJobs()
            #expect(dead.count == 1)
            #expect(dead.first?.id == "poison" && dead.first?.queue == name && dead.first?.attempts == 3)
            #expect(dead.first?.error.contains("database said no") == true)
            #expect(dead.first?.error.contains("gave up after 3 attempts") == true)
            #expect(try await queue.stats().first?.waiting == 0)
        }
    }

    @Test("a permanent failure dies at once; an unknown kind dies naming it")
    func permanentFailures() async throws {
        try await TestServers.withServers(logger: logger) { config, postgres, redis in
            let (queue, _) = makeQueue(redis)
            try await queue.enqueue([
                NewJob(kind: "diagnostics.probe", payload: Array("not json".utf8), id: "bad-payload"),
                NewJob(kind: "diagnostics.unheard_of", id: "unknown-kind"),
            ])
            try await withWorkers(1, config: config, queue: queue, postgres: postgres, redis: redis) { _ async throws in
                #expect(try await eventually { try await queue.stats().first?.dead == 2 })
            }
            let dead = Dictionary(uniqueKeysWithValues: try await queue.deadJobs().map { ($0.id, $0) })
            #expect(dead["bad-payload"]?.attempts == 1)
            #expect(dead["bad-payload"]?.error.contains("payload") == true)
            #expect(dead["unknown-kind"]?.error.contains("no handler for job kind diagnostics.unheard_of") == true)
        }
    }

    @Test("jobs of a worker that died are claimed back after the visibility timeout and run")
    func reclaimsJobsOfDeadWorker() async throws {
        try await TestServers.withServers(settings: ["worker.visibility_timeout": "1"], logger: logger) { config, postgres, redis in
            let (queue, name) = makeQueue(redis)
            try await queue.ensureGroups([name])
            try await queue.enqueue(try (0..<5).map { try probe("orphan-\($0)") })
            // A worker reads them and dies without acknowledging.
            let taken = try await redis.withBlockingConnection { connection in
                try await queue.read(on: connection, queues: [name], consumer: "ghost", count: 10, block: .seconds(1))
            }
            #expect(taken.count == 5)
            #expect(try await queue.stats().first?.inFlight == 5)
            try await withWorkers(1, config: config, queue: queue, postgres: postgres, redis: redis) { workers async throws in
                #expect(try await eventually { try await scalar(postgres, "SELECT count(DISTINCT job_id) FROM job_probe_runs") == 5 })
                #expect(try await eventually { try await queue.stats().first?.inFlight == 0 })
                #expect(workers[0].done.reclaimed == 5)
            }
        }
    }

    @Test("a job handed out more than max_deliveries times without finishing goes to the dead letters")
    func deliveryCap() async throws {
        try await TestServers.withServers(settings: ["worker.visibility_timeout": "1", "worker.max_deliveries": "2"], logger: logger) {
            config,
            postgres,
            redis in
            let (queue, name) = makeQueue(redis)
            try await queue.ensureGroups([name])
            try await queue.enqueue([try probe("crasher")])
            // Delivery 1 to a worker that dies, delivery 2 claimed by another that dies too.
            _ = try await redis.withBlockingConnection {
                try await queue.read(on: $0, queues: [name], consumer: "ghost-1", count: 1, block: .seconds(1))
            }
            try await Task.sleep(for: .milliseconds(1100))
            let second = try await queue.reclaim(name, consumer: "ghost-2", minIdle: .seconds(1), count: 10)
            #expect(second.map(\.deliveries) == [2])
            try await withWorkers(1, config: config, queue: queue, postgres: postgres, redis: redis) { _ async throws in
                #expect(try await eventually { try await queue.stats().first?.dead == 1 })
            }
            #expect(try await scalar(postgres, "SELECT count(*) FROM job_probe_runs") == 0)
            let dead = try #require(try await queue.deadJobs().first)
            #expect(dead.id == "crasher")
            #expect(dead.error.contains("handed out 2 times without finishing"))
        }
    }

    @Test("a job longer than the visibility timeout keeps its claim and runs once, with two workers")
    func longJobKeepsItsClaim() async throws {
        try await TestServers.withServers(settings: ["worker.visibility_timeout": "1"], logger: logger) { config, postgres, redis in
            let (queue, _) = makeQueue(redis)
            try await queue.enqueue([try probe("slow", sleep: 3500)])
            try await withWorkers(2, config: config, queue: queue, postgres: postgres, redis: redis) { workers async throws in
                #expect(try await eventually { try await scalar(postgres, "SELECT count(*) FROM job_probe_runs") == 1 })
                #expect(try await eventually { try await queue.stats().first?.inFlight == 0 })
                try await Task.sleep(for: .milliseconds(1500))
                #expect(workers.reduce(0) { $0 + $1.done.reclaimed } == 0)
            }
            #expect(try await scalar(postgres, "SELECT count(*) FROM job_probe_runs") == 1)
        }
    }

    @Test("dead jobs can be retried by id or all at once, and purged")
    func deadJobAdministration() async throws {
        let settings = ["worker.max_attempts": "1"]
        try await TestServers.withServers(settings: settings, logger: logger) { config, postgres, redis in
            let (queue, _) = makeQueue(redis)
            try await queue.enqueue([try probe("doomed-1", fail: "first"), try probe("doomed-2", fail: "second")])
            try await withWorkers(1, config: config, queue: queue, postgres: postgres, redis: redis) { _ async throws in
                #expect(try await eventually { try await queue.stats().first?.dead == 2 })
                #expect(try await queue.retryDead(jobID: "doomed-1"))
                #expect(try await queue.retryDead(jobID: "no-such-job") == false)
                // It runs again (as attempt 1) and dies again.
                #expect(try await eventually { try await scalar(postgres, "SELECT count(*) FROM job_probe_runs WHERE job_id = 'doomed-1'") == 2 })
                #expect(try await eventually { try await queue.stats().first?.dead == 2 })
                #expect(try await queue.retryAllDead() == 2)
                #expect(try await eventually { try await scalar(postgres, "SELECT count(*) FROM job_probe_runs") == 5 })
                #expect(try await eventually { try await queue.stats().first?.dead == 2 })
            }
            #expect(try await scalar(postgres, "SELECT max(attempt) FROM job_probe_runs") == 1)
            #expect(try await queue.purgeDead() == 2)
            #expect(try await queue.stats().first?.dead == 0)
        }
    }

    @Test("backoff doubles per attempt within +/-25% and stops at the cap")
    func backoff() async throws {
        let config = try TestServers.configuration(settings: ["worker.retry_base_delay": "2", "worker.retry_max_delay": "60"])
        let redis = RedisClient(configuration: try Clients.redisConfiguration(config.redis), logger: logger)
        let (queue, _) = makeQueue(redis)
        let worker = JobWorker(queue: queue, queues: [], handlers: [], settings: config.worker, redis: redis, consumer: "x", logger: logger)
        for (attempt, base) in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (20, 60.0)] {
            for _ in 0..<20 {
                let delay = worker.backoff(attempt: attempt).inSeconds
                #expect(delay >= base * 0.75 - 0.001 && delay <= base * 1.25 + 0.001, "attempt \(attempt): \(delay)")
            }
        }
    }

    @Test("enqueue refuses a kind whose category has no queue")
    func unknownCategory() async throws {
        let config = try TestServers.configuration()
        let redis = RedisClient(configuration: try Clients.redisConfiguration(config.redis), logger: logger)
        let (queue, _) = makeQueue(redis)
        #expect(throws: JobFailure.self) { try queue.queue(for: "nonsense.job") }
    }
}
