import Foundation

/// RFC 3339 / ISO 8601 UTC timestamps, formatted by hand.
///
/// Foundation's `ISO8601DateFormatter` is costly to create and to run on Linux; a board snapshot
/// formats hundreds of dates per request and every write formats its event's time, so this sits
/// on hot paths.
public enum Timestamp {
    /// `2030-01-31T17:00:00Z`, or with `milliseconds`, `2030-01-31T17:00:00.123Z`.
    public static func string(from date: Date, milliseconds: Bool = false) -> String {
        // Whole milliseconds first (nearest), so 1.001 stored as 1.000999… still reads .001.
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let millisecondPart = Int(((totalMilliseconds % 1000) + 1000) % 1000)
        var seconds = time_t((totalMilliseconds - Int64(millisecondPart)) / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = ""
        out.reserveCapacity(24)
        pad(Int(parts.tm_year) + 1900, 4, &out)
        out.append("-")
        pad(Int(parts.tm_mon) + 1, 2, &out)
        out.append("-")
        pad(Int(parts.tm_mday), 2, &out)
        out.append("T")
        pad(Int(parts.tm_hour), 2, &out)
        out.append(":")
        pad(Int(parts.tm_min), 2, &out)
        out.append(":")
        pad(Int(parts.tm_sec), 2, &out)
        if milliseconds {
            out.append(".")
            pad(millisecondPart, 3, &out)
        }
        out.append("Z")
        return out
    }

    private static func pad(_ value: Int, _ width: Int, _ out: inout String) {
        let digits = String(value)
        if digits.count < width { out.append(String(repeating: "0", count: width - digits.count)) }
        out.append(digits)
    }
}
