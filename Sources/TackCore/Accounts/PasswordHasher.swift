import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// Hashes and verifies passwords with bcrypt (HummingbirdBcrypt), on NIO's blocking thread pool.
///
/// A cost-12 hash takes a few hundred milliseconds of CPU: run on an event loop or on Swift's
/// cooperative pool (two threads here) it would stall every other request, so both calls hop to
/// `NIOThreadPool.singleton`, whose threads exist for blocking work.
///
/// The password is digested (SHA-256, base64) before bcrypt sees it: bcrypt ignores everything past
/// 72 bytes and stops at a NUL, and the digest makes every character of a long passphrase count.
public struct PasswordHasher: Sendable {
    /// The work factor of production hashes (2^12 rounds).
    public static let defaultCost: UInt8 = 12

    /// log2 of bcrypt's rounds; tests use the minimum, 4, to stay fast.
    public let cost: UInt8

    /// Creates a hasher with this work factor (4…31).
    public init(cost: UInt8 = PasswordHasher.defaultCost) {
        precondition((4...31).contains(cost), "bcrypt cost must be between 4 and 31")
        self.cost = cost
    }

    /// A new salted hash of `password`, as stored in `users.password_hash`.
    public func hash(_ password: String) async throws -> String {
        let input = Self.prepared(password)
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(input, cost: cost) }
    }

    /// Whether `password` matches a stored hash.
    public func verify(_ password: String, hash: String) async throws -> Bool {
        let input = Self.prepared(password)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(input, hash: hash) }
    }

    /// Spends the time a verification takes without any account behind it, so a login for an
    /// unknown email answers no faster than one with a wrong password.
    public func verifyNothing(_ password: String) async throws {
        let dummy = try await dummyHash()
        _ = try await verify(password, hash: dummy)
    }

    private func dummyHash() async throws -> String {
        if let hash = Self.dummies.withLock({ $0[cost] }) { return hash }
        let hash = try await self.hash(UUID().uuidString)
        Self.dummies.withLock { $0[cost] = hash }
        return hash
    }

    private static let dummies = Mutex<[UInt8: String]>([:])

    /// What bcrypt is given: base64 of the password's SHA-256 (44 ASCII characters, no NUL).
    static func prepared(_ password: String) -> String {
        Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }
}
