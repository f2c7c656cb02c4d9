import Foundation
import PostgresNIO
import TackCore

/// Jobs that exercise the queue itself: `diagnostics.noop` does nothing (benchmarks);
/// `diagnostics.probe` records its run in `job_probe_runs`, optionally after sleeping or by failing,
/// so `./platform jobs probe` and the tests can see every run, retry and dead letter.
public struct DiagnosticsJobs: JobHandler {
    /// Arguments of a probe.
    public struct Probe: Codable, Sendable {
        /// Sleep this long before recording.
        public var sleepMilliseconds: Int?
        /// Fail with this message after recording (so the run is counted).
        public var fail: String?

        /// Creates probe arguments.
        public init(sleepMilliseconds: Int? = nil, fail: String? = nil) {
            self.sleepMilliseconds = sleepMilliseconds
            self.fail = fail
        }
    }

    let postgres: PostgresClient
    let worker: String

    /// Creates the handler; `worker` is recorded with each probe run.
    public init(postgres: PostgresClient, worker: String) {
        self.postgres = postgres
        self.worker = worker
    }

    public var kinds: [String] { ["diagnostics.noop", "diagnostics.probe"] }

    public func perform(_ job: Job) async throws {
        guard job.kind == "diagnostics.probe" else { return }
        let probe = try job.decode(Probe.self)
        if let sleep = probe.sleepMilliseconds, sleep > 0 { try await Task.sleep(for: .milliseconds(sleep)) }
        try await postgres.query("INSERT INTO job_probe_runs (job_id, attempt, worker) VALUES (\(job.id), \(job.attempt), \(worker))")
        if let message = probe.fail { throw JobFailure.retry(message) }
    }
}
