import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import TackCore
import TackRedis
import TackWorker

/// `jobs`: the job queues for operators — depths, dead letters, retries, a probe.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Job queues: per queue waiting, in flight, consumers, oldest job, retries, dead.",
        subcommands: [Overview.self, Dead.self, Retry.self, PurgeDead.self, Probe.self],
        defaultSubcommand: Overview.self
    )

    /// Runs `body` with a job queue API and its clients.
    static func withQueue<T: Sendable>(
        _ options: ConfigOptions,
        _ body: @escaping @Sendable (JobQueue, PostgresClient, TackConfiguration) async throws -> T
    ) async throws -> T {
        let (config, logger, _) = try options.command("jobs").parts
        return try await Clients.withClients(config, logger: logger) { postgres, redis in
            _ = try await Clients.checkRedis(redis, config: config)
            return try await body(JobQueue(redis: redis, routes: config.queues, logger: logger), postgres, config)
        }
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = JSONKeys.encoding
        say(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    struct Overview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Per queue: waiting, in flight, consumers, oldest job, retries waiting, dead (the default)."
        )

        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await reportingErrors {
                let stats = try await JobsCommand.withQueue(options) { queue, _, _ in try await queue.stats() }
                if json { return try JobsCommand.printJSON(stats) }
                var rows = [["QUEUE", "WAITING", "IN FLIGHT", "CONSUMERS", "OLDEST", "RETRIES", "DEAD"]]
                for s in stats {
                    rows.append([
                        s.queue, String(s.waiting), String(s.inFlight), String(s.consumers),
                        s.oldestAgeSeconds.map { StatusCommand.age(Int($0 * 1000)) } ?? "-", String(s.retries), String(s.dead),
                    ])
                }
                sayTable(rows)
                let dead = stats.reduce(0) { $0 + $1.dead }
                if dead > 0 { say("\n\(dead) dead job(s): `./platform jobs dead` lists them, `./platform jobs retry --all` runs them again.") }
            }
        }
    }

    struct Dead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dead", abstract: "List dead jobs with their last error, newest first.")

        @Option(help: "Only this queue.") var queue: String?
        @Option(help: "At most this many per queue.") var limit = 50
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await reportingErrors {
                guard limit > 0 else { throw TackError(.usage, subject: "--limit", "expected a positive number") }
                let queue = self.queue
                let limit = self.limit
                let dead = try await JobsCommand.withQueue(options) { jobs, _, config in
                    if let queue, !config.queueNames.contains(queue) {
                        throw TackError(
                            .usage,
                            subject: "--queue \(queue)",
                            "no such queue; configured queues: " + config.queueNames.joined(separator: ", ")
                        )
                    }
                    return try await jobs.deadJobs(queue: queue, limit: limit)
                }
                if json { return try JobsCommand.printJSON(dead) }
                if dead.isEmpty { return say("no dead jobs") }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                for job in dead {
                    say(
                        "\(job.id)  \(job.kind)  queue \(job.queue), \(job.attempts) attempt(s), died \(StatusCommand.age(Int(now - job.failedAt))) ago"
                    )
                    say("    \(job.error)")
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry",
            abstract: "Put a dead job (by id) or every dead job back in its queue, as a first attempt."
        )

        @Argument(help: "The job id shown by `jobs dead`.") var id: String?
        @Flag(help: "Every dead job.") var all = false
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await reportingErrors {
                guard (id != nil) != all else { throw TackError(.usage, subject: "jobs retry", "give a job id or --all, not both") }
                let id = self.id
                let moved = try await JobsCommand.withQueue(options) { queue, _, _ -> Int in
                    if let id { return try await queue.retryDead(jobID: id) ? 1 : 0 }
                    return try await queue.retryAllDead()
                }
                if let id, moved == 0 { throw TackError(.usage, subject: "jobs retry \(id)", "no dead job has this id (see `./platform jobs dead`)") }
                say("\(moved) job(s) back in their queue")
            }
        }
    }

    struct PurgeDead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "purge_dead", abstract: "Delete every dead job.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await reportingErrors {
                let purged = try await JobsCommand.withQueue(options) { queue, _, _ in try await queue.purgeDead() }
                say("\(purged) dead job(s) deleted")
            }
        }
    }

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "probe",
            abstract: "Enqueue probe jobs and wait until workers have run them all: checks the queue end to end.",
            discussion: "Each probe records its run in the job_probe_runs table. Exits 1 when some did not run in time."
        )

        /// What to enqueue: `probe` jobs record their runs; `noop` jobs do nothing and need `--no-wait`
        /// (bench/jobs enqueues them to measure the batched enqueue and a worker's drain rate).
        enum Kind: String, ExpressibleByArgument, CaseIterable { case probe, noop }

        @Option(help: "How many probe jobs.") var count = 100
        @Option(help: ArgumentHelp("probe (recorded in job_probe_runs) or noop (does nothing; with --no-wait, for benchmarks).", visibility: .hidden))
        var kind: Kind = .probe
        @Option(help: "Seconds to wait for them.") var wait: Double = 60
        @Option(help: "Make each probe sleep this many milliseconds.") var sleepMs: Int?
        @Option(help: "Make each probe fail with this message (to watch retries and dead letters).") var fail: String?
        @Flag(help: "Enqueue and return without waiting.") var noWait = false
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await reportingErrors {
                guard (1...1_000_000).contains(count) else { throw TackError(.usage, subject: "--count", "expected 1 to 1000000") }
                if kind == .noop, !noWait || sleepMs != nil || fail != nil {
                    throw TackError(.usage, subject: "--kind noop", "no-op jobs record nothing to wait for: use it with --no-wait only")
                }
                let count = self.count
                let wait = self.wait
                let noWait = self.noWait
                let kind = self.kind
                let arguments = DiagnosticsJobs.Probe(sleepMilliseconds: sleepMs, fail: fail)
                let outcome = try await JobsCommand.withQueue(options) { queue, postgres, _ -> (Double, Double?, Int, String) in
                    let batch = "probe-" + NewJob.randomID().prefix(12) + "-"
                    let probes = ProbeRuns(postgres: postgres, logger: Logger(label: "tack.jobs"))
                    let jobs = try (0..<count).map {
                        kind == .noop
                            ? NewJob(kind: "diagnostics.noop", id: batch + String($0))
                            : try NewJob(kind: "diagnostics.probe", arguments: arguments, id: batch + String($0))
                    }
                    let started = ContinuousClock.now
                    try await queue.enqueue(jobs)
                    let enqueued = (ContinuousClock.now - started).inSeconds
                    guard !noWait else { return (enqueued, nil, 0, try queue.queue(for: "diagnostics.probe")) }
                    let deadline = started + .milliseconds(Int64(wait * 1000))
                    var ran = 0
                    while ContinuousClock.now < deadline {
                        ran = try await probes.jobsRan(idPrefix: batch)
                        if ran >= count { return (enqueued, (ContinuousClock.now - started).inSeconds, ran, "") }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return (enqueued, nil, ran, try queue.queue(for: "diagnostics.probe"))
                }
                let (enqueued, finished, ran, queueName) = outcome
                say(
                    "\(count) \(kind.rawValue) job(s) enqueued in "
                        + String(format: "%.3f s (%.0f jobs/s)", enqueued, Double(count) / max(enqueued, 1e-9))
                )
                if noWait { return }
                if let finished {
                    say(String(format: "all %d ran within %.2f s of the first enqueue", count, finished))
                } else {
                    throw TackError(
                        .needsAttention,
                        subject: "jobs probe",
                        "\(ran) of \(count) probe job(s) ran within \(wait) s: is a worker consuming queue \(queueName)? (`./platform status`)"
                    )
                }
            }
        }
    }
}
