import Logging
import PostgresNIO

/// `job_probe_runs`: what `diagnostics.probe` jobs record (one row per run, retries included), and
/// how `jobs probe` counts them. The one place that knows the table.
public struct ProbeRuns: Sendable {
    let postgres: PostgresClient
    let logger: Logger

    /// Reads and writes through `postgres`.
    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    /// Records one run of a probe job.
    public func record(jobID: String, attempt: Int, worker: String) async throws {
        try await postgres.boundedQuery(
            "INSERT INTO job_probe_runs (job_id, attempt, worker) VALUES (\(jobID), \(attempt), \(worker))",
            logger: logger
        )
    }

    /// How many distinct probe jobs whose id starts with `prefix` ran at least once.
    public func jobsRan(idPrefix prefix: String) async throws -> Int {
        let rows = try await postgres.boundedQuery(
            "SELECT count(DISTINCT job_id)::bigint FROM job_probe_runs WHERE job_id LIKE \(prefix + "%")",
            logger: logger
        )
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }
}
