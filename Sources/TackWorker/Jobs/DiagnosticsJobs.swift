import Foundation
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

    let runs: ProbeRuns
    let worker: String

    /// Creates the handler; `worker` is recorded with each probe run.
    public init(runs: ProbeRuns, worker: String) {
        self.runs = runs
        self.worker = worker
    }

    public var kinds: [String] { ["diagnostics.noop", "diagnostics.probe"] }

    public func perform(_ job: Job) async throws {
        guard job.kind == "diagnostics.probe" else { return }
        let probe = try job.decode(Probe.self)
        if let sleep = probe.sleepMilliseconds, sleep > 0 { try await Task.sleep(for: .milliseconds(sleep)) }
        try await runs.record(jobID: job.id, attempt: job.attempt, worker: worker)
        if let message = probe.fail { throw JobFailure.retry(message) }
    }
}
