import CHiredis
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts and joins the OS threads that own hiredis contexts.
///
/// Plain pthreads rather than Dispatch or the Swift concurrency pool: a connection thread spends
/// its life in blocking poll()/read()/write() calls, which would starve the cooperative pool
/// (2 threads on a 2-core machine) or NIO's event loops.
final class ConnectionThread: Sendable {
    private let handle: Mutex<pthread_t?>
    /// Fires when the thread body has returned, so async code can wait for the thread to end
    /// without blocking a cooperative thread in pthread_join().
    let exited = OneShotEvent()

    /// Starts `body` on a new thread named `name` (at most 15 characters are kept).
    init(name: String, body: @escaping @Sendable () -> Void) {
        let event = exited
        let box = Unmanaged.passRetained(
            ThreadBody {
                Self.setName(name)
                body()
                event.signal()
            }
        )
        var thread = pthread_t()
        let status = pthread_create(
            &thread,
            nil,
            { argument in
                let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            },
            box.toOpaque()
        )
        precondition(status == 0, "pthread_create failed with \(status)")
        handle = Mutex(thread)
    }

    /// Waits (asynchronously) for the thread to finish, then reaps it with pthread_join(), which
    /// no longer blocks at that point.
    func join() async {
        await exited.wait()
        let thread = handle.withLock { handle -> pthread_t? in
            defer { handle = nil }
            return handle
        }
        if let thread { pthread_join(thread, nil) }
    }

    deinit {
        // Nobody joined (the owner was dropped without shutting down): let the thread clean
        // itself up when it ends.
        if let thread = handle.withLock({ $0 }) { pthread_detach(thread) }
    }

    private static func setName(_ name: String) {
        tack_set_thread_name(String(name.utf8.prefix(15)) ?? "tack-redis")
    }
}

/// Boxes the thread body so it can cross pthread_create's `void *` argument.
private final class ThreadBody {
    /// What the new thread runs.
    let run: () -> Void
    /// Wraps `run`.
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// An event that happens once (a thread ended, a shutdown was requested) and that any number of
/// tasks can await, before or after it happens.
final class OneShotEvent: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Whether ``signal()`` has been called.
    var isSignalled: Bool { state.withLock { $0.fired } }

    /// Marks the event as happened and resumes every waiter; later calls do nothing.
    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if state.fired { return [] }
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the event has happened.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let fired = state.withLock { state -> Bool in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if fired { continuation.resume() }
        }
    }
}

/// Exponential backoff for reconnects: 50 ms doubling to 2 s, each delay drawn between half and
/// all of the current step so that many connections do not hammer a recovering Redis in step.
struct ReconnectBackoff {
    private var step: UInt64 = 0
    /// Failed attempts since the last success.
    private(set) var failures = 0

    /// Records a failure and returns the delay in nanoseconds before the next attempt.
    mutating func nextDelay() -> UInt64 {
        failures += 1
        step = step == 0 ? 50_000_000 : min(step * 2, 2_000_000_000)
        return step / 2 + UInt64.random(in: 0...(step / 2))
    }

    /// Forgets the failures after a successful connect.
    mutating func reset() {
        step = 0
        failures = 0
    }
}
