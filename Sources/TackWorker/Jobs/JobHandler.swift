import TackCore

/// Runs one kind of job. Delivery is at least once: a handler must be idempotent, keyed on the
/// job's id or on a natural key of its work (event + webhook, job + tick).
///
/// Throw ``JobFailure/permanent(_:)`` when retrying cannot help (the job goes straight to the
/// dead-letter stream), ``JobFailure/retry(_:after:)`` to set the next attempt's time; any other
/// error is retried with exponential backoff until `worker.max_attempts`.
public protocol JobHandler: Sendable {
    /// The kinds this handler runs.
    var kinds: [String] { get }
    /// Does the work of one job.
    func perform(_ job: Job) async throws
}
