// libFuzzer target: CronSchedule, the parser of `scheduler.jobs` schedules (config file, TACK_*
// environment and --set flags).
//
// The input is the schedule text. Properties, for several "now" instants (fixed ones and one
// taken from the input's hash): the next fire time is strictly after now; a 5-field schedule
// fires on a whole minute that matches the expression, checked by an independent matcher below
// (written from the cron grammar, using Foundation's Gregorian calendar, not Tack's day
// arithmetic), and no earlier minute within two hours of now matches; `@every d` fires on the first
// multiple of d after now; `fireTimes` is strictly increasing and bounded.

import Foundation

/// Instants to compute from: the epoch, 2023, a fraction of a second, before 1582, far ahead.
let instants: [Double] = [0, 1_700_000_000, 1_700_000_059.5, -12_219_292_801, 7_258_118_400, 253_402_300_799]

let utc: Calendar = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCron(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        let schedule: CronSchedule
        do throws(CronParseError) {
            schedule = try CronSchedule(parsing: text)
        } catch {
            fuzzExpect(!error.message.isEmpty, "an empty error message")
            return
        }
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        let reference = ReferenceCron(schedule.description)
        for seconds in instants + [Double(hash % 8_000_000_000) - 2_000_000_000] {
            let now = Date(timeIntervalSince1970: seconds)
            let next = schedule.next(after: now)
            if next == .distantFuture {
                if case .every = schedule.kind { fuzzFail("@every never fires from \(seconds)") }
                if let reference, seconds == instants[1] {
                    fuzzExpect(!reference.firesWithinADay(after: now), "never fires, yet a minute within a day matches")
                }
                continue
            }
            fuzzExpect(next > now, "next(after: \(seconds)) = \(next.timeIntervalSince1970) is not after it")
            switch schedule.kind {
            case .every(let interval):
                let t = next.timeIntervalSince1970
                fuzzExpect(t.truncatingRemainder(dividingBy: Double(interval)) == 0, "@every \(interval): \(t) is not a multiple")
                fuzzExpect(t - Double(interval) <= seconds, "@every \(interval): skipped a tick before \(t)")
            case .fields:
                guard let reference else { fuzzFail("the reference matcher cannot read \(fuzzShow(schedule.description))") }
                let t = next.timeIntervalSince1970
                fuzzExpect(t.truncatingRemainder(dividingBy: 60) == 0, "fires at \(t), not a whole minute")
                fuzzExpect(reference.matches(next), "fires at \(next) which does not match \(fuzzShow(schedule.description))")
                var minute = (seconds / 60).rounded(.down) * 60 + 60
                while minute < t && minute < seconds + 7200 {
                    fuzzExpect(!reference.matches(Date(timeIntervalSince1970: minute)), "skipped \(minute) before \(t)")
                    minute += 60
                }
            }
        }
        let from = Date(timeIntervalSince1970: instants[1])
        let times = schedule.fireTimes(after: from, through: from.addingTimeInterval(86_400 * 3), limit: 5)
        fuzzExpect(times.count <= 5, "fireTimes returned more than the limit")
        fuzzExpect(zip([from] + times, times).allSatisfy { $0 < $1 }, "fireTimes is not strictly increasing")
    }
}

/// An independent reading of a valid 5-field expression (or shortcut), used only to check matches.
struct ReferenceCron {
    var fields: [String]

    init?(_ text: String) {
        let shortcuts = [
            "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
            "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
        ]
        let words = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        if words.count == 1, let expansion = shortcuts[words[0].lowercased()] {
            fields = expansion.split(separator: " ").map(String.init)
        } else if words.count == 5 {
            fields = words
        } else {
            return nil
        }
    }

    /// Whether `value` is in a field: `*`, `a`, `a-b`, each optionally `/step`, joined by commas.
    static func field(_ text: String, contains value: Int, min: Int, starMax: Int, names: [String]) -> Bool {
        func number(_ token: Substring) -> Int {
            if let n = Int(token) { return n }
            return names.firstIndex(of: token.uppercased())! + (names.count == 12 ? 1 : 0)
        }
        for element in text.split(separator: ",") {
            let parts = element.split(separator: "/")
            let step = parts.count == 2 ? Int(parts[1])! : 1
            var low = min
            var high = starMax
            if parts[0] != "*" {
                let ends = parts[0].split(separator: "-")
                low = number(ends[0])
                high = ends.count == 2 ? number(ends[1]) : (parts.count == 2 ? Swift.max(low, starMax) : low)
            }
            if value >= low && value <= high && (value - low) % step == 0 { return true }
        }
        return false
    }

    func matches(_ date: Date) -> Bool {
        let c = utc.dateComponents([.minute, .hour, .day, .month, .weekday, .second, .nanosecond], from: date)
        guard c.second == 0 else { return false }
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        guard Self.field(fields[0], contains: c.minute!, min: 0, starMax: 59, names: []),
            Self.field(fields[1], contains: c.hour!, min: 0, starMax: 23, names: []),
            Self.field(fields[3], contains: c.month!, min: 1, starMax: 12, names: months)
        else { return false }
        let weekday = c.weekday! - 1
        let dayOfMonth = Self.field(fields[2], contains: c.day!, min: 1, starMax: 31, names: [])
        let dayOfWeek =
            Self.field(fields[4], contains: weekday, min: 0, starMax: 6, names: days)
            || (weekday == 0 && Self.field(fields[4], contains: 7, min: 0, starMax: 6, names: days))
        if fields[2].hasPrefix("*") || fields[4].hasPrefix("*") { return dayOfMonth && dayOfWeek }
        return dayOfMonth || dayOfWeek
    }

    func firesWithinADay(after now: Date) -> Bool {
        var minute = (now.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60
        for _ in 0..<1440 {
            if matches(Date(timeIntervalSince1970: minute)) { return true }
            minute += 60
        }
        return false
    }
}
