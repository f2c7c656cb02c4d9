/// Thrown by `withDeadline` when the operation did not finish in time.
public struct DeadlineExceeded: Error, Sendable {}

/// Runs `operation`, cancelling it and throwing `DeadlineExceeded` when it takes longer than `duration`.
///
/// Commands use it so an unreachable server turns into one clear line instead of a hang.
public func withDeadline<T: Sendable>(_ duration: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw DeadlineExceeded()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Runs `body` while `service` runs in a child task, then stops the service (by cancellation).
///
/// For short commands (`init_node`, `upgrade_db`, `status`) that need a client without a whole
/// `ServiceGroup`.
public func withRunning<S: Sendable, T: Sendable>(_ service: S, run: @escaping @Sendable (S) async throws -> Void, _ body: @Sendable (S) async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await run(service) }
        do {
            let result = try await body(service)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}
