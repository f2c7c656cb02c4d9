import Foundation

/// When a periodic job fires.
///
/// Two kinds of schedule are accepted:
/// - Standard 5-field cron, `minute hour day-of-month month day-of-week`, with Vixie-cron semantics,
///   and its shortcuts `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`.
/// - `@every <duration>` (`1s`, `90s`, `5m`, `1h30m`), which fires at whole multiples of the duration
///   since the Unix epoch, so every scheduler process computes the same ticks without coordinating.
///
/// Everything is computed in UTC with proleptic Gregorian arithmetic; there are no time zones and
/// no daylight-saving gaps to reason about.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    /// How far `next(after:)` searches before giving up on a 5-field schedule. The Gregorian calendar
    /// repeats exactly every 400 years (146097 days, a whole number of weeks), so a schedule with no
    /// fire time in 401 years has none at all (`0 0 30 2 *`).
    static let searchYears = 401

    /// The original text, trimmed.
    public let description: String
    /// What the text parsed to.
    let kind: Kind

    /// The two families of schedule, which compute fire times differently.
    enum Kind: Sendable, Equatable {
        /// Calendar fields: fires at whole minutes matching all of them.
        case fields(CronFields)
        /// A fixed interval in whole seconds, at least 1.
        case every(seconds: Int)
    }

    /// Parses standard 5-field cron (minute hour day-of-month month day-of-week), the shortcuts
    /// @yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly, and `@every <duration>` with
    /// durations like 1s, 30s, 5m, 2h, 1h30m (sub-minute intervals are allowed: tests use a 1-second job).
    ///
    /// Field syntax: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from a to the field's
    /// maximum), and lists joined by `,`. Months accept JAN-DEC and days of the week SUN-SAT, in any
    /// case. Day of week runs 0-7 where both 0 and 7 mean Sunday; `*` and `a/n` there stop at 6.
    ///
    /// When both day of month and day of week are restricted, a day matches if either matches. As in
    /// Vixie cron, a field counts as unrestricted for this rule when it starts with `*` (so `*/2` too).
    public init(parsing text: String) throws(CronParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        description = trimmed
        guard !trimmed.isEmpty else {
            throw CronParseError(field: "expression", message: "empty expression")
        }
        let words = trimmed.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        if trimmed.hasPrefix("@") {
            let name = words[0].lowercased()
            if name == "@every" {
                guard words.count == 2 else {
                    throw CronParseError(
                        field: "interval",
                        message: words.count < 2
                            ? "missing duration after @every (e.g. @every 5m)"
                            : "expected one duration after @every, got \(words.count - 1) words"
                    )
                }
                kind = .every(seconds: try Self.parseDuration(words[1]))
                return
            }
            let expansion: String
            switch name {
            case "@yearly", "@annually": expansion = "0 0 1 1 *"
            case "@monthly": expansion = "0 0 1 * *"
            case "@weekly": expansion = "0 0 * * 0"
            case "@daily", "@midnight": expansion = "0 0 * * *"
            case "@hourly": expansion = "0 * * * *"
            default:
                throw CronParseError(
                    field: "expression",
                    message: "unknown shortcut \(words[0]); expected @yearly, @annually, @monthly, "
                        + "@weekly, @daily, @midnight, @hourly or @every <duration>"
                )
            }
            guard words.count == 1 else {
                throw CronParseError(field: "expression", message: "\(words[0]) takes no arguments")
            }
            kind = .fields(try CronFields(parsing: expansion.split(separator: " ").map(String.init)))
            return
        }
        guard words.count == 5 else {
            throw CronParseError(field: "expression", message: "expected 5 fields, got \(words.count)")
        }
        kind = .fields(try CronFields(parsing: words))
    }

    /// The first fire time strictly after `date`, in UTC. 5-field schedules fire at whole minutes
    /// (second 0); `@every d` fires at multiples of d since the Unix epoch (so every process computes the same ticks).
    ///
    /// Returns `Date.distantFuture` when the schedule never fires: a 5-field schedule naming a date
    /// that does not exist (`0 0 30 2 *`), found by searching 401 years, one whole Gregorian cycle.
    /// Also returned for dates too far from the present to compute with (beyond ±300,000 years).
    public func next(after date: Date) -> Date {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, abs(seconds) < 1e13 else { return .distantFuture }
        switch kind {
        case .every(let interval):
            return Self.nextTick(after: seconds, interval: interval)
        case .fields(let fields):
            return fields.next(after: seconds)
        }
    }

    /// Fire times in (from, through], oldest first, at most `limit` (for catch-up after a takeover).
    public func fireTimes(after from: Date, through: Date, limit: Int) -> [Date] {
        var times: [Date] = []
        var cursor = from
        while times.count < limit {
            let fire = next(after: cursor)
            // distantFuture means "never"; `fire > cursor` guarantees progress even so.
            guard fire <= through, fire > cursor, fire != .distantFuture else { break }
            times.append(fire)
            cursor = fire
        }
        return times
    }

    /// The first multiple of `interval` seconds since the epoch strictly after `seconds`.
    private static func nextTick(after seconds: Double, interval: Int) -> Date {
        let step = Double(interval)
        var tick = (seconds / step).rounded(.down) + 1
        // Division can round either way near a tick; settle on the exact answer.
        while (tick - 1) * step > seconds { tick -= 1 }
        while tick * step <= seconds { tick += 1 }
        return Date(timeIntervalSince1970: tick * step)
    }

    /// Parses `1h30m`-style durations: one or more `<digits><unit>` with units h, m and s.
    private static func parseDuration(_ text: String) throws(CronParseError) -> Int {
        func bad(_ message: String) -> CronParseError {
            CronParseError(field: "interval", message: message)
        }
        let usage = "expected a duration like 30s, 5m, 2h or 1h30m"
        var total = 0
        var digits = ""
        var sawUnit = false
        for character in text.lowercased() {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            let unitSeconds: Int
            switch character {
            case "h": unitSeconds = 3600
            case "m": unitSeconds = 60
            case "s": unitSeconds = 1
            default:
                throw bad("invalid duration \(text): unexpected '\(character)'; \(usage)")
            }
            guard !digits.isEmpty else {
                throw bad("invalid duration \(text): '\(character)' needs a number before it; \(usage)")
            }
            guard let count = Int(digits) else { throw bad("duration \(text) is too long") }
            let (part, overflow1) = count.multipliedReportingOverflow(by: unitSeconds)
            let (sum, overflow2) = total.addingReportingOverflow(part)
            // A bound well past any real schedule keeps the Double arithmetic in next(after:) exact.
            guard !overflow1, !overflow2, sum <= 1 << 40 else { throw bad("duration \(text) is too long") }
            total = sum
            digits = ""
            sawUnit = true
        }
        guard digits.isEmpty, sawUnit else {
            throw bad("invalid duration \(text): a number needs a unit (h, m or s); \(usage)")
        }
        guard total > 0 else { throw bad("duration \(text) must be longer than zero") }
        return total
    }
}

/// Why a schedule could not be parsed, naming the field an operator has to fix.
public struct CronParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field that is wrong: "minute", "hour", "day of month", "month", "day of week", "interval", or "expression".
    public let field: String
    /// What is wrong with it, e.g. "61 is out of range 0-59", "expected 5 fields, got 4".
    public let message: String

    /// "<field>: <message>".
    public var description: String { "\(field): \(message)" }

    /// Makes an error for `field`.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// The five parsed fields of a cron expression, each a set of allowed values.
struct CronFields: Sendable, Equatable {
    /// 0-59.
    var minutes: BitSet
    /// 0-23.
    var hours: BitSet
    /// 1-31.
    var daysOfMonth: BitSet
    /// 1-12.
    var months: BitSet
    /// 0 = Sunday … 6 = Saturday (7 is folded into 0 while parsing).
    var daysOfWeek: BitSet
    /// Whether the day-of-month / day-of-week field started with `*` (Vixie's DOM_STAR / DOW_STAR).
    var dayOfMonthIsStar: Bool
    /// See `dayOfMonthIsStar`.
    var dayOfWeekIsStar: Bool

    /// Parses exactly five field texts, in cron order.
    init(parsing fields: [String]) throws(CronParseError) {
        minutes = try Self.parse(fields[0], spec: .minute)
        hours = try Self.parse(fields[1], spec: .hour)
        daysOfMonth = try Self.parse(fields[2], spec: .dayOfMonth)
        months = try Self.parse(fields[3], spec: .month)
        var weekdays = try Self.parse(fields[4], spec: .dayOfWeek)
        if weekdays.contains(7) {
            weekdays.insert(0)
            weekdays.remove(7)
        }
        daysOfWeek = weekdays
        dayOfMonthIsStar = fields[2].hasPrefix("*")
        dayOfWeekIsStar = fields[4].hasPrefix("*")
    }

    /// The first whole minute strictly after `seconds` (since the epoch) that matches, or
    /// `Date.distantFuture` if none within `CronSchedule.searchYears`.
    ///
    /// Walks forward month by month, day by day and hour by hour, never minute by minute.
    func next(after seconds: Double) -> Date {
        let startMinute = Int((seconds / 60).rounded(.down)) + 1
        let startDay = CivilCalendar.floorDivide(startMinute, 1440)
        var minuteOfDay = startMinute - startDay * 1440
        var (year, month, day) = CivilCalendar.date(fromDays: startDay)
        let lastYear = year + CronSchedule.searchYears
        while year <= lastYear {
            guard months.contains(month), day <= CivilCalendar.daysIn(month: month, year: year) else {
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
                day = 1
                minuteOfDay = 0
                continue
            }
            let dayNumber = CivilCalendar.uncheckedDays(fromYear: year, month: month, day: day)
            guard matchesDay(day, weekday: CivilCalendar.weekday(ofDays: dayNumber)),
                let hour = hours.first(atOrAfter: minuteOfDay / 60)
            else {
                day += 1
                minuteOfDay = 0
                continue
            }
            let fromMinute = hour == minuteOfDay / 60 ? minuteOfDay % 60 : 0
            guard let minute = minutes.first(atOrAfter: fromMinute) else {
                minuteOfDay = (hour + 1) * 60
                continue
            }
            return Date(timeIntervalSince1970: Double(dayNumber * 86400 + hour * 3600 + minute * 60))
        }
        return .distantFuture
    }

    private func matchesDay(_ day: Int, weekday: Int) -> Bool {
        if dayOfMonthIsStar || dayOfWeekIsStar {
            return daysOfMonth.contains(day) && daysOfWeek.contains(weekday)
        }
        return daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
    }

    /// The bounds and names of one field.
    struct Spec {
        /// The field's name in errors.
        var name: String
        /// The smallest value accepted.
        var min: Int
        /// The largest value accepted.
        var max: Int
        /// Where `*` and `a/n` stop; below `max` only for day of week, whose 7 repeats 0.
        var starMax: Int
        /// Upper-case names for consecutive values, if the field has names.
        var names: [String] = []
        /// The value of `names[0]`.
        var firstNameValue = 0

        /// Minute, 0-59.
        static let minute = Spec(name: "minute", min: 0, max: 59, starMax: 59)
        /// Hour, 0-23.
        static let hour = Spec(name: "hour", min: 0, max: 23, starMax: 23)
        /// Day of month, 1-31.
        static let dayOfMonth = Spec(name: "day of month", min: 1, max: 31, starMax: 31)
        /// Month, 1-12 or JAN-DEC.
        static let month = Spec(
            name: "month",
            min: 1,
            max: 12,
            starMax: 12,
            names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
            firstNameValue: 1
        )
        /// Day of week, 0-7 (both 0 and 7 are Sunday) or SUN-SAT.
        static let dayOfWeek = Spec(
            name: "day of week",
            min: 0,
            max: 7,
            starMax: 6,
            names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            firstNameValue: 0
        )
    }

    /// Parses one field's list of values, ranges and steps.
    static func parse(_ text: String, spec: Spec) throws(CronParseError) -> BitSet {
        func bad(_ message: String) -> CronParseError {
            CronParseError(field: spec.name, message: message)
        }
        func value(_ token: Substring) throws(CronParseError) -> Int {
            if !token.isEmpty, token.allSatisfy({ $0.isASCII && $0.isNumber }) {
                guard let number = Int(token), (spec.min...spec.max).contains(number) else {
                    throw bad("\(token) is out of range \(spec.min)-\(spec.max)")
                }
                return number
            }
            if token.isEmpty { throw bad("missing value in '\(text)'") }
            if spec.names.isEmpty { throw bad("'\(token)' is not a number") }
            guard let index = spec.names.firstIndex(of: token.uppercased()) else {
                throw bad("unknown name '\(token)'; expected \(spec.names.first!)-\(spec.names.last!) or a number")
            }
            return spec.firstNameValue + index
        }

        var set = BitSet()
        for element in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !element.isEmpty else { throw bad("empty list element in '\(text)'") }
            let parts = element.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw bad("more than one step in '\(element)'") }
            var step = 1
            if parts.count == 2 {
                let stepText = parts[1]
                guard !stepText.isEmpty, stepText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw bad("step '\(stepText)' in '\(element)' is not a number")
                }
                guard let parsed = Int(stepText), parsed >= 1 else {
                    throw bad("step \(stepText) in '\(element)' must be at least 1")
                }
                step = parsed
            }
            let range = parts[0]
            let low: Int
            let high: Int
            if range == "*" {
                (low, high) = (spec.min, spec.starMax)
            } else if let dash = range.firstIndex(of: "-") {
                low = try value(range[..<dash])
                high = try value(range[range.index(after: dash)...])
                guard low <= high else { throw bad("range \(range) is reversed; write the smaller value first") }
            } else {
                low = try value(range)
                high = parts.count == 2 ? max(low, spec.starMax) : low
            }
            for number in stride(from: low, through: high, by: step) {
                set.insert(number)
            }
        }
        return set
    }
}

/// A set of small non-negative integers (0-63), enough for every cron field.
struct BitSet: Sendable, Equatable {
    private var bits: UInt64 = 0

    /// Whether `value` is a member.
    func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0 }
    /// Adds `value`, which must be in 0-63.
    mutating func insert(_ value: Int) { bits |= 1 << UInt64(value) }
    /// Removes `value`, which must be in 0-63.
    mutating func remove(_ value: Int) { bits &= ~(1 << UInt64(value)) }

    /// The smallest member not below `value`.
    func first(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let candidates = bits & (~0 << UInt64(max(value, 0)))
        return candidates == 0 ? nil : candidates.trailingZeroBitCount
    }
}
