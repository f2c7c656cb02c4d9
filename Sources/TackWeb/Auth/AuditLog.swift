import Logging
import Synchronization

/// Security events that an operator watches for (failed logins, lock-outs, CSRF refusals): one log
/// line each, at notice level, with the request id, the client address and who was concerned, never
/// a password, token or the email that was typed.
///
/// A flood must not become a flood of lines: per event and key (a client address, an account) at
/// most one line is written every `interval`; the lines held back meanwhile are counted in the next
/// one (`tack.audit.suppressed`). The table is bounded: past `capacity` keys, new keys share one.
final class AuditLog: Sendable {
    /// A security event.
    struct Event: Sendable, Hashable {
        let name: String
        /// A login refused: wrong email or password.
        static let loginFailed = Event(name: "login failed")
        /// A login refused before its password was checked: too many recent failures.
        static let loginLockedOut = Event(name: "login refused: too many failed attempts")
        /// A write by session cookie without the right CSRF token.
        static let csrfRefused = Event(name: "write refused: missing or wrong CSRF token")
    }

    private struct Entry {
        var lastWritten: ContinuousClock.Instant
        var suppressed: Int
    }

    private let interval: Duration
    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    /// At most one line per event and key every `interval`, for up to `capacity` keys at a time.
    init(interval: Duration = .seconds(10), capacity: Int = 10_000) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Writes the event's line, unless one for the same event and key was written within `interval`.
    func record(_ event: Event, key: String, logger: Logger, metadata: Logger.Metadata) {
        let now = ContinuousClock.now
        let suppressed: Int? = entries.withLock { entries in
            var slot = event.name + "\u{0}" + key
            if entries[slot] == nil && entries.count >= capacity {
                entries = entries.filter { now - $0.value.lastWritten < interval }
                if entries.count >= capacity { slot = event.name + "\u{0}*" }
            }
            if var entry = entries[slot], now - entry.lastWritten < interval {
                entry.suppressed += 1
                entries[slot] = entry
                return nil
            }
            let held = entries[slot]?.suppressed ?? 0
            entries[slot] = Entry(lastWritten: now, suppressed: 0)
            return held
        }
        guard let suppressed else { return }
        var metadata = metadata
        metadata["tack.audit"] = "\(event.name)"
        if suppressed > 0 { metadata["tack.audit.suppressed"] = "\(suppressed)" }
        logger.notice("\(event.name)", metadata: metadata)
    }
}
