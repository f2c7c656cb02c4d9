/// Ordering keys for columns and cards: strings compared byte-wise (PostgreSQL `COLLATE "C"`),
/// where a key can always be made between any two others, so a move never renumbers neighbours.
///
/// Keys use the digits 0-9, A-Z, a-z (ASCII order); a key never ends in '0', so there is always room
/// before it.
public enum Position {
    static let digits: [Character] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    static let index: [Character: Int] = Dictionary(uniqueKeysWithValues: digits.enumerated().map { ($1, $0) })

    /// True for a well-formed key.
    public static func isValid(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 256 && key.allSatisfy { index[$0] != nil } && key.last != "0"
    }

    /// A key strictly between `before` and `after` (either may be nil for "start" / "end").
    /// Precondition: `before < after` when both are given, and both are valid keys.
    /// (The midpoint algorithm of fractional indexing, without an integer part.)
    public static func between(_ before: String?, _ after: String?) -> String {
        String(midpoint(Array(before ?? ""), after.map(Array.init)))
    }

    private static func midpoint(_ a: [Character], _ b: [Character]?) -> [Character] {
        if let b {
            // Skip the common prefix (a is read as padded with '0').
            var n = 0
            while n < b.count && (n < a.count ? a[n] : digits[0]) == b[n] { n += 1 }
            if n > 0 {
                return Array(b.prefix(n)) + midpoint(Array(a.dropFirst(n)), Array(b.dropFirst(n)))
            }
        }
        let digitA = a.isEmpty ? 0 : index[a[0]]!
        let digitB = b.map { $0.isEmpty ? digits.count : index[$0[0]]! } ?? digits.count
        if digitB - digitA > 1 {
            return [digits[(digitA + digitB + 1) / 2]]
        }
        // Consecutive first digits.
        if let b, b.count > 1 {
            return [b[0]]
        }
        return [digits[digitA]] + midpoint(Array(a.dropFirst()), nil)
    }

    /// `count` evenly spread keys after `start` (for seeding and bulk inserts).
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
