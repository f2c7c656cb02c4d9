/// Ordering keys for columns and cards: strings compared byte-wise (PostgreSQL `COLLATE "C"`),
/// where a key can always be made between any two others, so a move never renumbers neighbours.
///
/// Keys use the digits 0-9, A-Z, a-z (ASCII order); a key never ends in '0', so there is always room
/// before it. Keys are handled as bytes: every valid key is ASCII.
public enum Position {
    static let digits: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    /// The digit value of `a`, the first letter that heads a key made by appending (see `successor`).
    static let firstHead = 36
    /// The digit value of `y`, the last such letter (`z` keys are extended by halving, as before).
    static let lastHead = 60

    /// The value of a key digit, nil for any other byte.
    static func value(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(byte - UInt8(ascii: "A")) + 10
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(byte - UInt8(ascii: "a")) + 36
        default: return nil
        }
    }

    /// True for a well-formed key.
    public static func isValid(_ key: String) -> Bool {
        let bytes = key.utf8
        return !bytes.isEmpty && bytes.count <= 256 && bytes.allSatisfy { value($0) != nil } && bytes.last != UInt8(ascii: "0")
    }

    /// A key strictly between `before` and `after` (either may be nil for "start" / "end").
    /// Precondition: `before < after` when both are given, and both are valid keys.
    public static func between(_ before: String?, _ after: String?) -> String {
        let lower = Array((before ?? "").utf8)
        let key: [UInt8]
        if let after {
            key = midpoint(lower[...], Array(after.utf8)[...])
        } else if before != nil {
            key = successor(lower)
        } else {
            key = midpoint(lower[...], nil)
        }
        return String(decoding: key, as: UTF8.self)
    }

    /// The midpoint algorithm of fractional indexing, without an integer part: a key between `a`
    /// (read as padded with '0') and `b` (nil: the end).
    private static func midpoint(_ lower: ArraySlice<UInt8>, _ upper: ArraySlice<UInt8>?) -> [UInt8] {
        var a = lower
        var b = upper
        var out: [UInt8] = []
        while true {
            if let bb = b {
                // Skip the common prefix.
                var n = 0
                while n < bb.count && (n < a.count ? a[a.startIndex + n] : digits[0]) == bb[bb.startIndex + n] { n += 1 }
                if n > 0 {
                    out += bb.prefix(n)
                    a = a.dropFirst(n)
                    b = bb.dropFirst(n)
                }
            }
            let digitA = a.first.flatMap(value) ?? 0
            let digitB = b.map { $0.first.flatMap(value) ?? digits.count } ?? digits.count
            if digitB - digitA > 1 {
                out.append(digits[(digitA + digitB + 1) / 2])
                return out
            }
            // Consecutive first digits.
            if let bb = b, bb.count > 1, let first = bb.first {
                out.append(first)
                return out
            }
            out.append(digits[digitA])
            a = a.dropFirst()
            b = nil
        }
    }

    /// The key for appending after `key`, the last key. Halving towards the end would add a digit
    /// every six appends; instead an appended key is a head letter `a`…`y` telling how many digits
    /// follow (1…25) and a number that each append increments, so keys grow with the logarithm of
    /// the number of appends (`a1`…`az`, `b1`…`bzz`, `c1`…: 4 bytes for 238,000 cards). Missing
    /// trailing digits read as zeros, so `b1` is `b10` and keys never end in '0'.
    private static func successor(_ key: [UInt8]) -> [UInt8] {
        guard let head = key.first.flatMap(value), head >= firstHead else { return [digits[firstHead], digits[1]] }
        guard head <= lastHead else { return midpoint(key[...], nil) }
        let width = head - firstHead + 1
        var number = (1...width).map { $0 < key.count ? value(key[$0]) ?? 0 : 0 }
        var i = width - 1
        while i >= 0 && number[i] == digits.count - 1 {
            number[i] = 0
            i -= 1
        }
        guard i >= 0 else {
            // All digits at their largest: one digit more, under the next letter.
            return head < lastHead ? [digits[head + 1], digits[1]] : midpoint(key[...], nil)
        }
        number[i] += 1
        return [digits[head]] + number[...i].map { digits[$0] }
    }

    /// `count` keys in order after `start`, as appending one at a time makes them (for seeding and bulk inserts).
    public static func sequence(count: Int, after start: String? = nil) -> [String] {
        var keys: [String] = []
        var last = start
        for _ in 0..<count {
            let next = between(last, nil)
            keys.append(next)
            last = next
        }
        return keys
    }
}
