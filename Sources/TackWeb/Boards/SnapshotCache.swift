import NIOCore
import Synchronization
import TackCore

/// What is made from a board snapshot, kept per board for its latest version, so a board that is
/// read far more often than it is written is read from PostgreSQL (and encoded or rendered) once
/// per version instead of once per request. The API keeps encoded snapshots
/// (`GET /api/v1/boards/{id}` bodies, `SnapshotCache<ByteBuffer>`); the pages keep the rendered
/// board (`SnapshotCache<RenderedBoard>`).
///
/// Sound because a snapshot is a function of the board's version and the caller's role: every
/// change to what a snapshot holds is a board write, which bumps the version in the transaction
/// that makes the change, and the role is part of the key. (Accounts cannot be renamed or
/// deleted; whatever comes to change a member's name or email must bump their boards' versions.)
/// What depends on something else besides, such as the day a rendered page marks cards overdue
/// against, passes it as `variant`: an entry serves only its own version and variant.
/// The caller's access is still checked against PostgreSQL on every request, which also gives the
/// current version, so a process never serves a version older than what another process wrote.
final class SnapshotCache<Body: Sendable>: Sendable {
    struct Key: Hashable {
        var boardID: Int64
        var role: BoardRole
    }

    struct Entry {
        var version: Int64
        var variant: Int64
        var body: Body
        var bytes: Int
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

    /// The body for this board, version, role and variant, when cached.
    func body(boardID: Int64, version: Int64, role: BoardRole, variant: Int64 = 0) -> Body? {
        state.withLock { state in
            let key = Key(boardID: boardID, role: role)
            guard var entry = state.entries[key], entry.version == version, entry.variant == variant else { return nil }
            state.clock += 1
            entry.lastUse = state.clock
            state.entries[key] = entry
            return entry.body
        }
    }

    /// Keeps `body`, which takes about `bytes` of memory, unless a newer version of the board is
    /// already cached for this role. Of one version, the variant stored last wins (the day moves on).
    func store(_ body: Body, bytes: Int, boardID: Int64, version: Int64, role: BoardRole, variant: Int64 = 0) {
        guard bytes <= capacity else { return }
        state.withLock { state in
            let key = Key(boardID: boardID, role: role)
            if let old = state.entries[key] {
                guard old.version < version || (old.version == version && old.variant != variant) else { return }
                state.bytes -= old.bytes
            }
            state.clock += 1
            state.entries[key] = Entry(version: version, variant: variant, body: body, bytes: bytes, lastUse: state.clock)
            state.bytes += bytes
            while state.bytes > capacity, let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                state.bytes -= oldest.value.bytes
                state.entries[oldest.key] = nil
            }
        }
    }
}

extension SnapshotCache where Body == ByteBuffer {
    /// Keeps an encoded body, which takes its own size.
    func store(_ body: ByteBuffer, boardID: Int64, version: Int64, role: BoardRole) {
        store(body, bytes: body.readableBytes, boardID: boardID, version: version, role: role)
    }
}
