import Synchronization

/// Runs concurrent callers' work in batches, one batch at a time per key (group commit): while a
/// batch runs, callers with the same key queue; when it is done, the first of them runs everything
/// queued (up to `limit` items) as the next batch.
///
/// Used where work is serialised anyway (the writes of one board, under its row lock) or costs
/// the same for one item as for many (one statement, one Redis script): the batch then costs
/// about what one item did. Every caller gets its own output and runs at most one batch, so no
/// caller is kept busy by the others.
final class GroupCommit<Key: Hashable & Sendable, Item: Sendable, Output: Sendable>: Sendable {
    private enum Turn: Sendable {
        case lead
        case done(Output)
    }

    private struct Queue {
        var waiting: [(item: Item, turn: CheckedContinuation<Turn, Never>)] = []
    }

    /// The most items in one batch.
    let limit: Int
    /// Keys with a batch running, and who waits behind it.
    private let queues = Mutex<[Key: Queue]>([:])

    /// Creates a group commit running at most `limit` items per batch.
    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Runs `item` in a batch for `key` and returns its output. `body` gets the batch, this
    /// caller's item first then the queued ones in arrival order, and returns one output per item
    /// in the same order; it runs on the task of the caller that leads the batch.
    func run(_ item: Item, key: Key, _ body: @Sendable ([Item]) async -> [Output]) async -> Output {
        let turn = await withCheckedContinuation { (turn: CheckedContinuation<Turn, Never>) in
            queues.withLock { queues in
                if queues[key] != nil {
                    queues[key]?.waiting.append((item, turn))
                } else {
                    queues[key] = Queue()
                    turn.resume(returning: .lead)
                }
            }
        }
        if case .done(let output) = turn { return output }
        let others = queues.withLock { queues in
            let taken = Array(queues[key]?.waiting.prefix(limit - 1) ?? [])
            queues[key]?.waiting.removeFirst(taken.count)
            return taken
        }
        let outputs = await body([item] + others.map(\.item))
        precondition(outputs.count == others.count + 1, "GroupCommit: one output per item")
        for (other, output) in zip(others, outputs.dropFirst()) { other.turn.resume(returning: .done(output)) }
        queues.withLock { queues in
            if let next = queues[key]?.waiting.first {
                queues[key]?.waiting.removeFirst()
                next.turn.resume(returning: .lead)
            } else {
                queues[key] = nil
            }
        }
        return outputs[0]
    }
}
