import Foundation
import Logging
import PostgresNIO
import TackCore
import TackRedis
import TackTestSupport
import Testing

@testable import TackScheduler

/// Which ticks a leader fires: catch-up after a takeover (no servers needed).
@Suite("Cron catch-up")
struct CronCatchUpTests {
    let every1s = try! CronSchedule(parsing: "@every 1s")
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("missed ticks inside the catch-up window fire once each, oldest first; older ones are skipped")
    func windowed() {
        let ticks = CronTicker.dueTicks(schedule: every1s, catchUp: .seconds(10), lastFired: now.addingTimeInterval(-60), now: now)
        #expect(ticks.count == 11)  // now-10 ... now
        #expect(ticks.first == now.addingTimeInterval(-10))
        #expect(ticks.last == now)
        #expect(Set(ticks).count == ticks.count)
    }

    @Test("a leader that is up to date fires only the tick that just came due")
    func upToDate() {
        #expect(CronTicker.dueTicks(schedule: every1s, catchUp: .seconds(10), lastFired: now.addingTimeInterval(-1), now: now) == [now])
        #expect(CronTicker.dueTicks(schedule: every1s, catchUp: .seconds(10), lastFired: now, now: now.addingTimeInterval(0.5)).isEmpty)
    }

    @Test("a zero window fires only the newest missed tick, once")
    func latestOnly() throws {
        let hourly = try CronSchedule(parsing: "@hourly")
        let half: Int = 1_700_000_000 - 1_700_000_000 % 3600 + 1800
        let at = Date(timeIntervalSince1970: Double(half))  // half past an hour
        let ticks = CronTicker.dueTicks(schedule: hourly, catchUp: .zero, lastFired: at.addingTimeInterval(-5 * 3600), now: at)
        #expect(ticks == [at.addingTimeInterval(-1800)])
        // Nothing missed: nothing fires.
        #expect(CronTicker.dueTicks(schedule: hourly, catchUp: .zero, lastFired: at.addingTimeInterval(-1800), now: at).isEmpty)
    }

    @Test("the default cron table parses and only the test job is off by default")
    func defaultTable() throws {
        for job in ScheduledJob.all {
            _ = try CronSchedule(parsing: job.defaultSchedule)
            #expect(ConfigSchema.jobKinds.contains { $0.kind == Job.category(of: job.kind) }, "\(job.kind) has a queue")
        }
        #expect(ScheduledJob.all.filter { !$0.enabledByDefault }.map(\.name) == ["probe"])
    }
}

/// `scheduler.jobs` and `retention` in the config.
@Suite("Scheduler configuration")
struct SchedulerConfigTests {
    let secret = String(repeating: "s", count: 64)

    func load(_ yaml: String, environment: [String: String] = [:]) throws -> TackConfiguration {
        let path = NSTemporaryDirectory() + "tack-sched-\(UUID().uuidString).yml"
        try ("secret_key: \"\(secret)\"\n" + yaml).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ConfigLoader(filePath: path, environment: environment, rootDirectory: "/opt/tack").load()
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> TackError? {
        do {
            _ = try load(yaml, environment: environment)
            return nil
        } catch let error as TackError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test("jobs are enabled, disabled and rescheduled from the config")
    func reschedule() throws {
        let config = try load(
            """
            scheduler:
              jobs:
                reminders: "*/5 * * * *"
                board_snapshots: off
                probe: "@every 2s"
            retention:
              events: 90
              webhook_deliveries: 0
            """
        )
        let jobs = Dictionary(uniqueKeysWithValues: config.scheduler.jobs.map { ($0.job.name, $0.schedule.description) })
        #expect(jobs["reminders"] == "*/5 * * * *")
        #expect(jobs["board_snapshots"] == nil)
        #expect(jobs["probe"] == "@every 2s")
        #expect(jobs["prune"] == "30 3 * * *")
        #expect(config.retention.events == .seconds(90 * 86400))
        #expect(config.retention.webhookDeliveries == nil)
        #expect(config.retention.cronRuns == .seconds(30 * 86400))

        let defaults = try load("")
        #expect(!defaults.scheduler.jobs.contains { $0.job.name == "probe" })
        #expect(defaults.retention.events == nil)
    }

    @Test("a bad expression is named with its file line, job and field; exit status 2")
    func badExpression() throws {
        let e = try #require(
            error(
                """
                scheduler:
                  jobs:
                    reminders: "61 * * * *"
                """
            )
        )
        #expect(e.code == .invalidConfig && e.exitCode == 2)
        #expect(e.description.contains(":4: scheduler.jobs.reminders: minute: 61 is out of range 0-59"), "\(e)")
    }

    @Test("an unknown job is named, with a suggestion")
    func unknownJob() throws {
        let e = try #require(
            error(
                """
                scheduler:
                  jobs:
                    reminder: "@hourly"
                """
            )
        )
        #expect(e.description.contains(":4: scheduler.jobs.reminder: unknown job; did you mean `reminders`?"), "\(e)")
    }

    @Test("the environment form takes `job: schedule` pairs separated by semicolons")
    func environment() throws {
        let config = try load("", environment: ["TACK_SCHEDULER_JOBS": "probe: @every 1s; reminders: 0,30 * * * *; prune: off"])
        let jobs = Dictionary(uniqueKeysWithValues: config.scheduler.jobs.map { ($0.job.name, $0.schedule.description) })
        #expect(jobs["probe"] == "@every 1s" && jobs["reminders"] == "0,30 * * * *" && jobs["prune"] == nil)
        let e = try #require(error("", environment: ["TACK_SCHEDULER_JOBS": "probe: @every 0s"]))
        #expect(e.description.contains("TACK_SCHEDULER_JOBS (scheduler.jobs): probe: interval:"), "\(e)")
    }
}

/// The tick script against a real Redis: fencing on the lease, one enqueue per tick.
@Suite("Cron ticks in Redis", .serialized)
struct CronTickScriptTests {
    let logger = Logger(label: "tack.test.scheduler")

    /// A ticker for the probe job whose queue is private to the test, and a lease that is not running.
    func makeTicker(_ config: TackConfiguration, _ redis: RedisClient, processID: String = "test/scheduler/1") -> (CronTicker, SchedulerLease, String)
    {
        let queueName = TestServers.uniqueName("sched")
        var routes = config.queues
        routes["diagnostics"] = queueName
        let lease = SchedulerLease(processID: processID, redis: redis, timings: config.scheduler, logger: logger)
        let probe = ConfiguredCronJob(job: ScheduledJob.named("probe")!, schedule: try! CronSchedule(parsing: "@every 1s"))
        let ticker = CronTicker(
            lease: lease,
            jobs: [probe],
            queue: JobQueue(redis: redis, routes: routes, logger: logger),
            redis: redis,
            logger: logger
        )
        return (ticker, lease, queueName)
    }

    func reset(_ redis: RedisClient) async throws {
        _ = try await redis.send("DEL", RedisKeys.schedulerLeader, RedisKeys.schedulerJobs)
    }

    func entries(_ redis: RedisClient, _ queue: String) async throws -> [[String: String]] {
        let reply = try await redis.sendChecked("XRANGE", RedisKeys.queue(queue), "-", "+")
        return (reply.array ?? []).map { entry in
            let flat = entry.array?.last?.array?.compactMap(\.string) ?? []
            var fields: [String: String] = [:]
            for i in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[i]] = flat[i + 1] }
            return fields
        }
    }

    @Test("a process that does not own the lease cannot enqueue a tick")
    func fencing() async throws {
        try await TestServers.withServers { config, _, redis in
            try await reset(redis)
            let (ticker, _, queue) = makeTicker(config, redis)
            let tick = Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970)))
            #expect(try await ticker.fire(ticker.jobs[0], at: tick) == .notLeader)  // nobody leads
            _ = try await redis.send("SET", RedisKeys.schedulerLeader, "someone-else#1")
            #expect(try await ticker.fire(ticker.jobs[0], at: tick) == .notLeader)  // another owner leads
            #expect(try await entries(redis, queue).isEmpty)
            #expect(
                try await redis.send("EXISTS", RedisKeys.schedulerTick(job: "probe", scheduledFor: Int64(tick.timeIntervalSince1970 * 1000))).int
                    == 0,
                "a fenced call claims nothing"
            )
            try await reset(redis)
        }
    }

    @Test("a tick is enqueued once, whichever leader fires it and however often")
    func claimedOnce() async throws {
        try await TestServers.withServers { config, _, redis in
            try await reset(redis)
            let (first, firstLease, queue) = makeTicker(config, redis)
            let tick = Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970) - Int.random(in: 1...100_000) * 86400))
            _ = try await redis.send("SET", RedisKeys.schedulerLeader, firstLease.owner)
            #expect(try await first.fire(first.jobs[0], at: tick) == .enqueued)
            #expect(try await first.fire(first.jobs[0], at: tick) == .alreadyClaimed)

            // A new leader (same queue) takes over and fires the same tick again: still one entry.
            let lease2 = SchedulerLease(processID: "test/scheduler/2", redis: redis, timings: config.scheduler, logger: logger)
            let second = CronTicker(lease: lease2, jobs: first.jobs, queue: first.queue, redis: redis, logger: logger)
            _ = try await redis.send("SET", RedisKeys.schedulerLeader, lease2.owner)
            #expect(try await second.fire(second.jobs[0], at: tick) == .alreadyClaimed)
            #expect(try await first.fire(first.jobs[0], at: tick.addingTimeInterval(1)) == .notLeader, "the old leader is fenced off")

            let stored = try await entries(redis, queue)
            #expect(stored.count == 1)
            let ms = Int64(tick.timeIntervalSince1970 * 1000)
            #expect(stored.first?["id"] == "cron:probe:\(ms)")
            #expect(stored.first?["kind"] == "diagnostics.cron_probe")
            #expect(stored.first?["attempt"] == "1")
            let payload = try JobCoding.decoder.decode(CronTick.self, from: Data((stored.first?["payload"] ?? "").utf8))
            #expect(payload == CronTick(job: "probe", scheduledFor: ms, leader: firstLease.owner))
            _ = try await redis.send("DEL", RedisKeys.queue(queue))
            try await reset(redis)
        }
    }

    @Test("a new leader fires each tick missed inside the catch-up window once, and no older one")
    func catchUpOnTakeover() async throws {
        try await TestServers.withServers(settings: [
            "scheduler.lease_ttl": "5", "scheduler.renew_interval": "0.5",
            "scheduler.renew_deadline": "3", "scheduler.retry_interval": "0.2",
        ]) { config, _, redis in
            try await reset(redis)
            let (ticker, lease, queue) = makeTicker(config, redis)
            // The previous leader fired its last tick 400 s ago; the probe's window is 300 s. "Now" is
            // a random day in the past, so tick claims left by earlier runs of this test cannot collide.
            let now = Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970) - Int.random(in: 1...100_000) * 86400))
            let lastFired = Int64(now.timeIntervalSince1970 - 400) * 1000
            _ = try await redis.send("HSET", RedisKeys.schedulerJobs, "probe:last_tick", lastFired)
            try await TestServers.withRunning(lease, run: { try await $0.run() }) { lease in
                let deadline = ContinuousClock.now + .seconds(10)
                while !lease.isLeading && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                #expect(lease.isLeading)
                var last = try await ticker.loadLastFired(now: now)
                #expect(last["probe"] == Date(timeIntervalSince1970: Double(lastFired) / 1000))
                _ = try await ticker.fireDue(lastFired: &last, now: now)
                var again = try await ticker.loadLastFired(now: now)  // a second pass (or leader) adds nothing
                _ = try await ticker.fireDue(lastFired: &again, now: now)
            }
            let ids = try await entries(redis, queue).compactMap { $0["id"] }
            let ticks = ids.compactMap { Int64($0.split(separator: ":").last ?? "") }
            let nowMs = Int64(now.timeIntervalSince1970 * 1000)
            #expect(ticks.count == Set(ticks).count, "no tick twice")
            #expect(ticks.count >= 300 && ticks.count <= 301, "\(ticks.count) ticks, first \(ticks.first ?? 0), now \(nowMs)")
            #expect(ticks.allSatisfy { $0 >= nowMs - 300_000 && $0 <= nowMs })
            #expect(ticks == ticks.sorted(), "oldest first")
            _ = try await redis.send("DEL", RedisKeys.queue(queue))
            try await reset(redis)
        }
    }
}
