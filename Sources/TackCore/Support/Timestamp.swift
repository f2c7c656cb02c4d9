import Foundation

/// RFC 3339 / ISO 8601 UTC timestamps, formatted and parsed by hand in the proleptic Gregorian
/// calendar.
///
/// RFC 3339 and PostgreSQL count days in the proleptic Gregorian calendar; Foundation's calendars
/// and `ISO8601DateFormatter` switch to the Julian calendar before 1582-10-15, so a date written by
/// one and read by the other moved by up to ten days and drifted on every round trip. Every path a
/// date takes in or out of Tack as text goes through `Timestamp`, `ISO8601Parsing` and
/// `CivilCalendar` instead; postgres-nio sends `Date` as microseconds since 2000-01-01, which
/// involves no calendar. Hand-made is also fast: a board snapshot formats hundreds of dates per
/// request and every write formats its event's time.
public enum Timestamp {
    /// `2030-01-31T17:00:00Z`, or with `milliseconds`, `2030-01-31T17:00:00.123Z`.
    public static func string(from date: Date, milliseconds: Bool = false) -> String {
        // Whole milliseconds first (nearest), so 1.001 stored as 1.000999… still reads .001.
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let millisecondPart = Int(((totalMilliseconds % 1000) + 1000) % 1000)
        let seconds = Int((totalMilliseconds - Int64(millisecondPart)) / 1000)
        let dayNumber = CivilCalendar.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - dayNumber * 86_400
        let day = CivilCalendar.date(fromDays: dayNumber)
        var out = ""
        out.reserveCapacity(24)
        pad(day.year, 4, &out)
        out.append("-")
        pad(day.month, 2, &out)
        out.append("-")
        pad(day.day, 2, &out)
        out.append("T")
        pad(secondOfDay / 3600, 2, &out)
        out.append(":")
        pad(secondOfDay / 60 % 60, 2, &out)
        out.append(":")
        pad(secondOfDay % 60, 2, &out)
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

/// RFC 3339 date-times, the `date-time` of the OpenAPI document, read by hand in the proleptic
/// Gregorian calendar (`CivilCalendar`), as `Timestamp` writes them.
///
/// Stricter than `ISO8601DateFormatter`, which rolls 30 February over to 1 March, takes years an
/// answer cannot write back as RFC 3339 (`-0001`, `10000` once in UTC) and counts Julian days
/// before 1582-10-15.
public enum ISO8601Parsing {
    /// Reads an RFC 3339 date-time, the `date-time` of the OpenAPI document:
    /// `2025-01-31T17:00:00Z`, `2025-01-31T17:00:00.250+01:00` (`t` and `z` in lower case too),
    /// with up to nine fraction digits.
    ///
    /// Only real calendar dates and times are accepted (no 30 February, no hour 24, no leap
    /// second), and only instants whose UTC time `Timestamp.string(from:)` can write back as RFC 3339: years
    /// 1 to 9999. Nil for anything else.
    public static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        // yyyy-mm-ddThh:mm:ss, then an optional fraction, then Z or ±hh:mm.
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[13] == UInt8(ascii: ":"),
            bytes[16] == UInt8(ascii: ":"), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
            let year = number(bytes, 0..<4), let month = number(bytes, 5..<7), let day = number(bytes, 8..<10),
            let hour = number(bytes, 11..<13), let minute = number(bytes, 14..<16), let second = number(bytes, 17..<19)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            let start = index + 1
            var end = start
            while end < bytes.count, end - start < 10, isDigit(bytes[end]) { end += 1 }
            guard (1...9).contains(end - start), let digits = number(bytes, start..<end) else { return nil }
            var scale = 1
            for _ in start..<end { scale *= 10 }
            fraction = Double(digits) / Double(scale)
            index = end
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"), let hours = number(bytes, index + 1..<index + 3),
                let minutes = number(bytes, index + 4..<index + 6), hours <= 23, minutes <= 59
            else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        guard let days = CivilCalendar.days(fromYear: year, month: month, day: day), year >= 1, hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // An offset can carry the instant out of years 1 to 9999 in UTC, where answers write it;
        // so can a fraction that rounds up to the next millisecond at the very end.
        let milliseconds = Int64(seconds) * 1000 + Int64((fraction * 1000).rounded())
        guard milliseconds >= Int64(earliestSecond) * 1000, milliseconds < Int64(endSecond) * 1000 else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// 0001-01-01T00:00:00Z, in seconds since 1970.
    private static let earliestSecond = CivilCalendar.days(fromYear: 1, month: 1, day: 1)! * 86_400
    /// 10000-01-01T00:00:00Z, in seconds since 1970: the first instant with a five-digit year.
    private static let endSecond = (CivilCalendar.days(fromYear: 9999, month: 12, day: 31)! + 1) * 86_400

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The ASCII decimal digits in `range`, or nil when any is not one.
    private static func number(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
        guard range.upperBound <= bytes.count else { return nil }
        var value = 0
        for index in range {
            guard isDigit(bytes[index]) else { return nil }
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
        }
        return value
    }
}

/// Days of the proleptic Gregorian calendar (the Gregorian rules extended before 1582, as ISO 8601,
/// RFC 3339 and PostgreSQL use them), numbered from 1970-01-01, in integer arithmetic (Howard
/// Hinnant's days-from-civil algorithms). The one calendar every Tack date goes through.
public enum CivilCalendar {
    /// Days since 1970-01-01 of a calendar date; nil when the month or day does not exist (30
    /// February, 29 February outside leap years, month 13).
    public static func days(fromYear year: Int, month: Int, day: Int) -> Int? {
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        return uncheckedDays(fromYear: year, month: month, day: day)
    }

    /// Days since 1970-01-01 of a date known to exist.
    static func uncheckedDays(fromYear year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let shiftedMonth = (month + 9) % 12  // March = 0
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The calendar date of a day number since 1970-01-01.
    public static func date(fromDays dayNumber: Int) -> (year: Int, month: Int, day: Int) {
        let z = dayNumber + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The day number (since 1970-01-01, UTC) that `date` falls on.
    public static func days(of date: Date) -> Int {
        Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// Midnight UTC at the start of a day number.
    public static func startOfDay(_ dayNumber: Int) -> Date {
        Date(timeIntervalSince1970: Double(dayNumber) * 86_400)
    }

    /// 0 = Sunday … 6 = Saturday; 1970-01-01 was a Thursday.
    public static func weekday(ofDays dayNumber: Int) -> Int {
        ((dayNumber % 7) + 7 + 4) % 7
    }

    /// True for years divisible by 4, except centuries not divisible by 400.
    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// 28 to 31.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Division rounding towards negative infinity (days before 1970 are negative).
    public static func floorDivide(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
