import NIOCore
import Synchronization
import TackCore

/// Encoded board snapshots (`GET /api/v1/boards/{id}` bodies), kept per board for its latest
/// version, so a board that is read far more often than it is written is read from PostgreSQL
/// once per version instead of once per request.
///
/// Sound because a snapshot is a function of the board's version and the caller's role: every
/// change to what a snapshot holds is a board write, which bumps the version in the transaction
/// that makes the change, and the role is part of the key. (Accounts cannot be renamed or
/// deleted; whatever comes to change a member's name or email must bump their boards' versions.)
/// The caller's access is still checked against PostgreSQL on every request, which also gives the
/// current version, so a process never serves a version older than what another process wrote.
final class SnapshotCache: Sendable {
    struct Key: Hashable {
        var boardID: Int64
        var role: BoardRole
    }

    struct Entry {
        var version: Int64
        var body: ByteBuffer
        var lastUse: UInt64
    }

    struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    /// Bodies above this total are evicted, least recently used first.
    let capacity: Int
    private let state = Mutex(State())

    /// Creates an empty cache holding at most `capacity` bytes of bodies.
    init(capacity: Int = 64 << 20) {
        self.capacity = capacity
    }

    /// The body for this board, version and role, when cached.
    func body(boardID: Int64, version: Int64, role: BoardRole) -> ByteBuffer? {
        state.withLock { state in
            let key = Key(boardID: boardID, role: role)
            guard var entry = state.entries[key], entry.version == version else { return nil }
            state.clock += 1
            entry.lastUse = state.clock
            state.entries[key] = entry
            return entry.body
        }
    }

    /// Keeps `body` unless a newer version of the board is already cached for this role.
    func store(_ body: ByteBuffer, boardID: Int64, version: Int64, role: BoardRole) {
        guard body.readableBytes <= capacity else { return }
        state.withLock { state in
            let key = Key(boardID: boardID, role: role)
            if let old = state.entries[key] {
                guard old.version < version else { return }
                state.bytes -= old.body.readableBytes
            }
            state.clock += 1
            state.entries[key] = Entry(version: version, body: body, lastUse: state.clock)
            state.bytes += body.readableBytes
            while state.bytes > capacity, let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                state.bytes -= oldest.value.body.readableBytes
                state.entries[oldest.key] = nil
            }
        }
    }
}
