// libFuzzer target: Position, the ordering keys of columns and cards (clients send them as
// `before`/`after` neighbours of a move).
//
// The input is read as two keys separated by a byte 0xFF, each byte mapped onto a key digit and
// trailing '0's dropped (so both are valid keys; an empty key means "start" or "end"). Properties:
// between(a, b) is a well-formed key strictly between a and b (byte order, as PostgreSQL's
// COLLATE "C"), also for the ends (nil), at most one digit longer than the longer neighbour (26
// bytes when appending); keys made by repeated insertion between a result and its neighbours stay
// well-formed and ordered; sequence(count:after:) is strictly increasing.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPosition(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        let parts = bytes.split(separator: 0xFF, maxSplits: 1, omittingEmptySubsequences: false)
        let keys = parts.map(key)
        var a = keys.first ?? nil
        var b = keys.count > 1 ? keys[1] : nil
        if let x = a, let y = b {
            if x == y {
                b = nil
            } else if !less(x, y) {
                (a, b) = (y, x)
            }
        }
        var lower = a
        var upper = b
        // Insert repeatedly between the new key and one neighbour, alternating, as users dragging
        // cards into the same gap do.
        for round in 0..<12 {
            let middle = Position.between(lower, upper)
            fuzzExpect(
                isWellFormed(middle),
                "between(\(fuzzShow(lower)), \(fuzzShow(upper))) = \(fuzzShow(middle)) is not a well-formed key"
            )
            // Between two keys: at most one digit more. After the last key (appending): a head letter
            // and up to 25 digits (see Position.successor), or one digit more than a longer key.
            let longest = max(lower?.utf8.count ?? 0, upper?.utf8.count ?? 0)
            let bound = upper == nil ? max(longest + 1, 26) : longest + 1
            fuzzExpect(middle.utf8.count <= bound, "between(\(fuzzShow(lower)), \(fuzzShow(upper))) = \(middle) is longer than \(bound)")
            if let lower { fuzzExpect(less(lower, middle), "between(\(fuzzShow(lower)), \(fuzzShow(upper))) = \(middle) is not after the lower key") }
            if let upper { fuzzExpect(less(middle, upper), "between(\(fuzzShow(lower)), \(upper)) = \(middle) is not before the upper key") }
            if round % 2 == 0 { upper = middle } else { lower = middle }
        }
        let sequence = Position.sequence(count: 8, after: a)
        var previous = a
        for key in sequence {
            fuzzExpect(isWellFormed(key), "sequence after \(fuzzShow(a)) made the malformed key \(fuzzShow(key))")
            if let previous { fuzzExpect(less(previous, key), "sequence after \(fuzzShow(a)) is not increasing at \(key)") }
            previous = key
        }
    }
}

/// Maps arbitrary bytes onto a valid key (nil when nothing is left).
private func key(_ bytes: ArraySlice<UInt8>) -> String? {
    var digits = bytes.prefix(256).map { Position.digits[Int($0) % Position.digits.count] }
    while digits.last == UInt8(ascii: "0") { digits.removeLast() }
    return digits.isEmpty ? nil : String(decoding: digits, as: UTF8.self)
}

/// Position.isValid without its 256-byte cap: keys made between two neighbours grow by a digit
/// about every sixth insertion into the same gap, and nothing rebalances them, so the cap is not
/// an invariant of between(_:_:) (bench/fuzz found a 257-byte key; see bench/RESULTS.md).
private func isWellFormed(_ key: String) -> Bool {
    let bytes = key.utf8
    return !bytes.isEmpty && bytes.allSatisfy { Position.value($0) != nil } && bytes.last != UInt8(ascii: "0")
}

/// Byte-wise order, as PostgreSQL compares under COLLATE "C".
private func less(_ x: String, _ y: String) -> Bool { x.utf8.lexicographicallyPrecedes(y.utf8) }
