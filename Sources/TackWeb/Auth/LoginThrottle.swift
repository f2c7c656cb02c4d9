import Crypto
import Foundation
import Hummingbird
import Logging
import TackCore
import TackRedis

/// Refuses logins after too many failures, per account and per client address, counted in Redis
/// over a fixed window that starts at the first failure (`web.login_window`).
///
/// Checked before the password is (a refused attempt costs no bcrypt time and tells nothing). A
/// success clears the account's count but not the address's, so knowing one password does not
/// buy more guesses at others. If Redis cannot be reached, logins go on unthrottled (logged):
/// locking everyone out would be the worse failure.
struct LoginThrottle: Sendable {
    let redis: RedisClient
    let maxPerAccount: Int
    let maxPerAddress: Int
    let window: Duration
    /// Where a lock-out is reported.
    let audit: AuditLog

    /// Takes the limits from `web.login_*`.
    init(redis: RedisClient, web: TackConfiguration.Web, audit: AuditLog) {
        self.redis = redis
        self.maxPerAccount = web.loginMaxAttempts
        self.maxPerAddress = web.loginMaxAttemptsPerAddress
        self.window = web.loginWindow
        self.audit = audit
    }

    /// Milliseconds until whichever counter is at its limit expires; 0 when the attempt may go on.
    static let check = RedisScript(
        """
        local wait = 0
        for i = 1, 2 do
          local n = tonumber(redis.call('GET', KEYS[i]) or '0')
          if n >= tonumber(ARGV[i]) then
            local ttl = redis.call('PTTL', KEYS[i])
            if ttl < 0 then
              redis.call('PEXPIRE', KEYS[i], ARGV[3])
              ttl = tonumber(ARGV[3])
            end
            if ttl > wait then wait = ttl end
          end
        end
        return wait
        """
    )

    /// Counts one failure on both counters; the window starts with a counter's first failure.
    static let fail = RedisScript(
        """
        for i = 1, 2 do
          redis.call('INCR', KEYS[i])
          redis.call('PEXPIRE', KEYS[i], ARGV[1], 'NX')
        end
        return 0
        """
    )

    /// Throws 429 `too_many_attempts` with `Retry-After` when either counter is at its limit (an
    /// audit line, see `AuditLog`).
    func check(email: String, address: String, logger: Logger) async throws {
        let wait: Int
        do {
            let reply = try await redis.evaluate(
                Self.check,
                keys: keys(email: email, address: address),
                args: [maxPerAccount, maxPerAddress, window.wholeMilliseconds]
            )
            wait = reply.int ?? 0
        } catch {
            logger.error("login throttle unavailable; login not throttled", metadata: ["tack.error": "\(error)"])
            return
        }
        guard wait > 0 else { return }
        let seconds = max(1, (wait + 999) / 1000)
        audit.record(
            .loginLockedOut,
            key: address,
            logger: logger,
            metadata: ["tack.client": "\(address)", "tack.account": "\(Self.accountKey(email))", "tack.retry_after_s": "\(seconds)"]
        )
        var error = APIError(
            .tooManyRequests,
            code: "too_many_attempts",
            message: "Too many failed logins; try again in \(Self.describe(seconds: seconds))."
        )
        error.headers[.retryAfter] = String(seconds)
        throw error
    }

    /// Records a failed attempt (and its audit line).
    func recordFailure(email: String, address: String, logger: Logger) async {
        audit.record(
            .loginFailed,
            key: address,
            logger: logger,
            metadata: ["tack.client": "\(address)", "tack.account": "\(Self.accountKey(email))"]
        )
        do {
            _ = try await redis.evaluate(Self.fail, keys: keys(email: email, address: address), args: [window.wholeMilliseconds])
        } catch {
            logger.error("login throttle unavailable; failure not counted", metadata: ["tack.error": "\(error)"])
        }
    }

    /// Clears the account's count after a successful login.
    func recordSuccess(email: String, logger: Logger) async {
        do {
            _ = try await redis.del(RedisKeys.loginFailuresOfAccount(Self.accountKey(email)))
        } catch {
            logger.error("login throttle unavailable; count not cleared", metadata: ["tack.error": "\(error)"])
        }
    }

    private func keys(email: String, address: String) -> [any RedisArgumentConvertible] {
        [RedisKeys.loginFailuresOfAccount(Self.accountKey(email)), RedisKeys.loginFailuresOfAddress(address)]
    }

    /// The account's counter name, also how audit lines name an account: a digest of the normalised
    /// email (no addresses in Redis, and nothing typed into the email field in the logs).
    static func accountKey(_ email: String) -> String {
        let normalized = (try? AccountRules.normalizedEmail(email)) ?? email.lowercased()
        return SHA256.hash(data: Data(normalized.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// "45 seconds", "15 minutes".
    static func describe(seconds: Int) -> String {
        seconds < 90 ? "\(seconds) seconds" : "\((seconds + 59) / 60) minutes"
    }
}
