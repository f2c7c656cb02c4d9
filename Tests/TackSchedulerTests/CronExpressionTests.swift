import Foundation
import Testing

@testable import TackCore

/// A UTC instant written as ISO 8601, e.g. "2024-03-10T12:34:56Z".
private func iso(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    guard let date = formatter.date(from: text) else { fatalError("bad ISO date \(text)") }
    return date
}

private func next(_ expression: String, after text: String) throws -> Date {
    try CronSchedule(parsing: expression).next(after: iso(text))
}

/// The fire times after `start`, each one fed back as the next start.
private func sequence(_ expression: String, after start: String, count: Int) throws -> [Date] {
    let schedule = try CronSchedule(parsing: expression)
    var times: [Date] = []
    var cursor = iso(start)
    for _ in 0..<count {
        cursor = schedule.next(after: cursor)
        times.append(cursor)
    }
    return times
}

private func parseError(_ expression: String) -> CronParseError? {
    do {
        _ = try CronSchedule(parsing: expression)
        return nil
    } catch {
        return error
    }
}

@Suite("Cron schedule: five-field expressions")
struct CronFieldScheduleTests {
    @Test func everyMinuteFiresAtTheNextWholeMinute() throws {
        #expect(try next("* * * * *", after: "2024-03-10T12:34:56Z") == iso("2024-03-10T12:35:00Z"))
        #expect(try next("* * * * *", after: "2024-03-10T12:35:00Z") == iso("2024-03-10T12:36:00Z"))
        #expect(try next("* * * * *", after: "2024-12-31T23:59:30Z") == iso("2025-01-01T00:00:00Z"))
        // Sub-second input still lands on second 0 of the following minute.
        let schedule = try CronSchedule(parsing: "* * * * *")
        #expect(schedule.next(after: iso("2024-03-10T12:00:00Z").addingTimeInterval(0.5)) == iso("2024-03-10T12:01:00Z"))
    }

    @Test func hourly() throws {
        #expect(try next("0 * * * *", after: "2024-03-10T12:00:00Z") == iso("2024-03-10T13:00:00Z"))
        #expect(try next("0 * * * *", after: "2024-03-10T12:59:59Z") == iso("2024-03-10T13:00:00Z"))
        #expect(try next("0 * * * *", after: "2024-02-29T23:00:00Z") == iso("2024-03-01T00:00:00Z"))
        #expect(try next("@hourly", after: "2024-03-10T12:00:00Z") == iso("2024-03-10T13:00:00Z"))
    }

    @Test func dailyAtHalfPastThree() throws {
        #expect(try next("30 3 * * *", after: "2024-03-10T01:00:00Z") == iso("2024-03-10T03:30:00Z"))
        #expect(try next("30 3 * * *", after: "2024-03-10T03:29:59Z") == iso("2024-03-10T03:30:00Z"))
        #expect(try next("30 3 * * *", after: "2024-03-10T03:30:00Z") == iso("2024-03-11T03:30:00Z"))
        #expect(try next("30 3 * * *", after: "2024-03-10T03:31:00Z") == iso("2024-03-11T03:30:00Z"))
        #expect(try next("30 3 * * *", after: "2023-12-31T04:00:00Z") == iso("2024-01-01T03:30:00Z"))
    }

    @Test func weekdaysNineToFiveEveryQuarterHour() throws {
        let expression = "*/15 9-17 * * 1-5"
        // 2024-03-08 is a Friday; the weekend is skipped.
        #expect(try next(expression, after: "2024-03-08T17:44:00Z") == iso("2024-03-08T17:45:00Z"))
        #expect(try next(expression, after: "2024-03-08T17:45:00Z") == iso("2024-03-11T09:00:00Z"))
        #expect(try next(expression, after: "2024-03-09T10:00:00Z") == iso("2024-03-11T09:00:00Z"))
        #expect(try next(expression, after: "2024-03-11T09:07:00Z") == iso("2024-03-11T09:15:00Z"))
        #expect(try next(expression, after: "2024-03-11T06:00:00Z") == iso("2024-03-11T09:00:00Z"))
        #expect(try next("*/15 9-17 * * MON-FRI", after: "2024-03-08T17:45:00Z") == iso("2024-03-11T09:00:00Z"))
    }

    @Test func thirtyFirstSkipsShortMonths() throws {
        #expect(
            try sequence("0 0 31 * *", after: "2024-01-31T00:00:00Z", count: 6) == [
                iso("2024-03-31T00:00:00Z"),
                iso("2024-05-31T00:00:00Z"),
                iso("2024-07-31T00:00:00Z"),
                iso("2024-08-31T00:00:00Z"),
                iso("2024-10-31T00:00:00Z"),
                iso("2024-12-31T00:00:00Z"),
            ]
        )
        #expect(try next("0 0 31 * *", after: "2024-12-31T00:00:00Z") == iso("2025-01-31T00:00:00Z"))
    }

    @Test func february29thOnlyInLeapYears() throws {
        #expect(try next("0 0 29 2 *", after: "2023-03-01T00:00:00Z") == iso("2024-02-29T00:00:00Z"))
        #expect(try next("0 0 29 2 *", after: "2024-02-29T00:00:00Z") == iso("2028-02-29T00:00:00Z"))
        // 2100 is not a leap year (divisible by 100, not by 400); 2000 was.
        #expect(try next("0 0 29 2 *", after: "2096-03-01T00:00:00Z") == iso("2104-02-29T00:00:00Z"))
        #expect(try next("0 0 29 2 *", after: "1999-01-01T00:00:00Z") == iso("2000-02-29T00:00:00Z"))
    }

    @Test(arguments: ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *", "59 23 31 11 *"])
    func impossibleDatesNeverFire(expression: String) throws {
        let schedule = try CronSchedule(parsing: expression)
        #expect(schedule.next(after: iso("2024-01-01T00:00:00Z")) == .distantFuture)
        #expect(schedule.fireTimes(after: iso("2024-01-01T00:00:00Z"), through: iso("2030-01-01T00:00:00Z"), limit: 10).isEmpty)
    }

    @Test func dayOfMonthOrDayOfWeekWhenBothRestricted() throws {
        // The 13th or any Friday. 2024-09-13 is a Friday; 2024-10-13 a Sunday.
        #expect(
            try sequence("0 0 13 * 5", after: "2024-09-01T00:00:00Z", count: 8) == [
                iso("2024-09-06T00:00:00Z"),
                iso("2024-09-13T00:00:00Z"),
                iso("2024-09-20T00:00:00Z"),
                iso("2024-09-27T00:00:00Z"),
                iso("2024-10-04T00:00:00Z"),
                iso("2024-10-11T00:00:00Z"),
                iso("2024-10-13T00:00:00Z"),
                iso("2024-10-18T00:00:00Z"),
            ]
        )
    }

    @Test func onlyOneDayFieldRestrictedMeansThatFieldAlone() throws {
        #expect(
            try sequence("0 0 * * 5", after: "2024-09-01T00:00:00Z", count: 2) == [
                iso("2024-09-06T00:00:00Z"), iso("2024-09-13T00:00:00Z"),
            ]
        )
        #expect(
            try sequence("0 0 13 * *", after: "2024-09-01T00:00:00Z", count: 2) == [
                iso("2024-09-13T00:00:00Z"), iso("2024-10-13T00:00:00Z"),
            ]
        )
        // As in Vixie cron, a day field starting with `*` counts as unrestricted, so `*/2` (odd days)
        // AND Friday: the Fridays of September 2024 fall on the 6th, 13th, 20th and 27th.
        #expect(
            try sequence("0 0 */2 * FRI", after: "2024-09-01T00:00:00Z", count: 2) == [
                iso("2024-09-13T00:00:00Z"), iso("2024-09-27T00:00:00Z"),
            ]
        )
    }

    @Test(arguments: ["0 12 * * 0", "0 12 * * 7", "0 12 * * SUN", "0 12 * * sun"])
    func sundayIsZeroSevenOrSun(expression: String) throws {
        // 2024-03-06 is a Wednesday, 2024-03-10 a Sunday.
        #expect(
            try sequence(expression, after: "2024-03-06T00:00:00Z", count: 2) == [
                iso("2024-03-10T12:00:00Z"), iso("2024-03-17T12:00:00Z"),
            ]
        )
    }

    @Test func rangeEndingAtSevenIncludesSunday() throws {
        // Friday, Saturday, Sunday.
        #expect(
            try sequence("0 0 * * 5-7", after: "2024-03-06T00:00:00Z", count: 4) == [
                iso("2024-03-08T00:00:00Z"), iso("2024-03-09T00:00:00Z"),
                iso("2024-03-10T00:00:00Z"), iso("2024-03-15T00:00:00Z"),
            ]
        )
    }

    @Test func monthAndDayNamesInAnyCase() throws {
        #expect(
            try sequence("0 0 1 jan,Jul *", after: "2024-02-01T00:00:00Z", count: 2) == [
                iso("2024-07-01T00:00:00Z"), iso("2025-01-01T00:00:00Z"),
            ]
        )
        // JAN-MAY/2: January, March, May.
        #expect(
            try sequence("0 0 1 JAN-MAY/2 *", after: "2024-01-01T00:00:00Z", count: 3) == [
                iso("2024-03-01T00:00:00Z"), iso("2024-05-01T00:00:00Z"), iso("2025-01-01T00:00:00Z"),
            ]
        )
        #expect(try next("0 8 * * Mon-Fri", after: "2024-03-08T08:00:00Z") == iso("2024-03-11T08:00:00Z"))
        #expect(try next("0 8 * * tue,THU", after: "2024-03-08T08:00:00Z") == iso("2024-03-12T08:00:00Z"))
    }

    @Test func listsRangesAndSteps() throws {
        #expect(
            try sequence("0,30 8,20 * * *", after: "2024-03-10T08:00:00Z", count: 4) == [
                iso("2024-03-10T08:30:00Z"), iso("2024-03-10T20:00:00Z"),
                iso("2024-03-10T20:30:00Z"), iso("2024-03-11T08:00:00Z"),
            ]
        )
        #expect(
            try sequence("10-30/10 * * * *", after: "2024-03-10T08:00:00Z", count: 4) == [
                iso("2024-03-10T08:10:00Z"), iso("2024-03-10T08:20:00Z"),
                iso("2024-03-10T08:30:00Z"), iso("2024-03-10T09:10:00Z"),
            ]
        )
        // `a/n` runs from a to the field's maximum: 5, 25, 45.
        #expect(
            try sequence("5/20 * * * *", after: "2024-03-10T08:46:00Z", count: 3) == [
                iso("2024-03-10T09:05:00Z"), iso("2024-03-10T09:25:00Z"), iso("2024-03-10T09:45:00Z"),
            ]
        )
        // Hours 0, 6, 12, 18 at minute 59.
        #expect(try next("59 */6 * * *", after: "2024-03-10T18:59:00Z") == iso("2024-03-11T00:59:00Z"))
    }

    @Test func shortcuts() throws {
        #expect(try next("@yearly", after: "2024-06-01T00:00:00Z") == iso("2025-01-01T00:00:00Z"))
        #expect(try next("@annually", after: "2024-01-01T00:00:00Z") == iso("2025-01-01T00:00:00Z"))
        #expect(try next("@monthly", after: "2024-01-31T12:00:00Z") == iso("2024-02-01T00:00:00Z"))
        // Weekly means Sunday midnight; 2024-03-06 is a Wednesday.
        #expect(try next("@weekly", after: "2024-03-06T00:00:00Z") == iso("2024-03-10T00:00:00Z"))
        #expect(try next("@daily", after: "2024-03-06T00:00:00Z") == iso("2024-03-07T00:00:00Z"))
        #expect(try next("@midnight", after: "2024-02-28T23:59:59Z") == iso("2024-02-29T00:00:00Z"))
        #expect(try next("@DAILY", after: "2024-03-06T00:00:00Z") == iso("2024-03-07T00:00:00Z"))
    }

    @Test func nextIsStrictlyAfterAnExactFireTime() throws {
        for (expression, fire, following) in [
            ("30 3 * * *", "2024-03-10T03:30:00Z", "2024-03-11T03:30:00Z"),
            ("0 0 1 1 *", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
            ("*/15 * * * *", "2024-03-10T03:45:00Z", "2024-03-10T04:00:00Z"),
            ("@every 1h30m", "2024-01-01T01:30:00Z", "2024-01-01T03:00:00Z"),
        ] {
            #expect(try next(expression, after: fire) == iso(following), "\(expression)")
        }
    }

    @Test func theInstantJustBeforeAFireTimeGetsThatFireTime() throws {
        let tick = iso("2024-01-01T00:00:00Z")
        let justBefore = Date(timeIntervalSince1970: tick.timeIntervalSince1970.nextDown)
        for expression in ["@every 90s", "@every 1h30m", "@every 1s", "0 0 * * *", "* * * * *"] {
            #expect(try CronSchedule(parsing: expression).next(after: justBefore) == tick, "\(expression)")
        }
    }

    @Test func descriptionIsTheTrimmedText() throws {
        #expect(try CronSchedule(parsing: "  0 3 * * *\n").description == "0 3 * * *")
        #expect(try CronSchedule(parsing: "@every 1h30m").description == "@every 1h30m")
        #expect(try CronSchedule(parsing: "\t0\t3 * * *") == CronSchedule(parsing: "0\t3 * * * "))
    }

    /// Checks the first fire times against a minute-by-minute walk with Foundation's calendar and
    /// hand-written predicates, an independent oracle for the schedule arithmetic.
    @Test(arguments: [
        "*/15 9-17 * * 1-5", "0 0 13 * 5", "5,35 */7 1-3,28-31 * *", "0 12 * feb,mar SAT", "0 0 * * 0",
    ])
    func agreesWithMinuteByMinuteSearch(expression: String) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let matches: (DateComponents) -> Bool =
            switch expression {
            case "*/15 9-17 * * 1-5":
                { $0.minute! % 15 == 0 && (9...17).contains($0.hour!) && (2...6).contains($0.weekday!) }
            case "0 0 13 * 5":
                { $0.minute! == 0 && $0.hour! == 0 && ($0.day! == 13 || $0.weekday! == 6) }
            case "5,35 */7 1-3,28-31 * *":
                { [5, 35].contains($0.minute!) && [0, 7, 14, 21].contains($0.hour!) && ($0.day! <= 3 || $0.day! >= 28) }
            case "0 12 * feb,mar SAT":
                { $0.minute! == 0 && $0.hour! == 12 && [2, 3].contains($0.month!) && $0.weekday! == 7 }
            default:
                { $0.minute! == 0 && $0.hour! == 0 && $0.weekday! == 1 }
            }
        let start = iso("2024-01-27T10:17:00Z")
        let end = iso("2024-04-02T00:00:00Z")
        var expected: [Date] = []
        var minute = start.addingTimeInterval(60)
        while minute <= end {
            if matches(calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: minute)) {
                expected.append(minute)
            }
            minute.addTimeInterval(60)
        }
        let schedule = try CronSchedule(parsing: expression)
        #expect(!expected.isEmpty)
        #expect(schedule.fireTimes(after: start, through: end, limit: 100_000) == expected)
    }
}

@Suite("Cron schedule: @every intervals")
struct CronIntervalScheduleTests {
    @Test func everySecond() throws {
        let schedule = try CronSchedule(parsing: "@every 1s")
        #expect(schedule.next(after: iso("2024-03-10T12:00:00Z").addingTimeInterval(0.25)) == iso("2024-03-10T12:00:01Z"))
        #expect(schedule.next(after: iso("2024-03-10T12:00:01Z")) == iso("2024-03-10T12:00:02Z"))
        #expect(schedule.next(after: iso("2024-03-10T12:00:59Z")) == iso("2024-03-10T12:01:00Z"))
    }

    @Test func ninetySecondsAlignedToTheEpoch() throws {
        // 2024-01-01T00:00:00Z is 1704067200 s after the epoch, a multiple of 90.
        #expect(try next("@every 90s", after: "2024-01-01T00:00:00Z") == iso("2024-01-01T00:01:30Z"))
        #expect(try next("@every 90s", after: "2024-01-01T00:01:00Z") == iso("2024-01-01T00:01:30Z"))
        #expect(try next("@every 90s", after: "2024-01-01T00:01:30Z") == iso("2024-01-01T00:03:00Z"))
        #expect(try next("@every 1m30s", after: "2024-01-01T00:01:00Z") == iso("2024-01-01T00:01:30Z"))
    }

    @Test func hourAndAHalfAlignedToTheEpoch() throws {
        #expect(try next("@every 1h30m", after: "2024-01-01T00:10:00Z") == iso("2024-01-01T01:30:00Z"))
        #expect(try next("@every 1h30m", after: "2024-01-01T22:30:00Z") == iso("2024-01-02T00:00:00Z"))
        #expect(try next("@every 90m", after: "2024-01-01T22:30:00Z") == iso("2024-01-02T00:00:00Z"))
    }

    @Test func intervalNotDividingADayStaysOnEpochMultiples() throws {
        // 1704067200 mod 420 = 360, so the 7-minute ticks around midnight are 23:54 and 00:01.
        #expect(try next("@every 7m", after: "2023-12-31T23:50:00Z") == iso("2023-12-31T23:54:00Z"))
        #expect(try next("@every 7m", after: "2023-12-31T23:54:00Z") == iso("2024-01-01T00:01:00Z"))
        #expect(try next("@every 5m", after: "2024-03-10T12:07:30Z") == iso("2024-03-10T12:10:00Z"))
        #expect(try next("@every 2h", after: "2024-03-10T13:00:00Z") == iso("2024-03-10T14:00:00Z"))
    }
}

@Suite("Cron schedule: fire times for catch-up")
struct CronFireTimesTests {
    @Test func halfOpenWindowOldestFirst() throws {
        let schedule = try CronSchedule(parsing: "*/15 * * * *")
        #expect(
            schedule.fireTimes(after: iso("2024-01-01T00:00:00Z"), through: iso("2024-01-01T01:00:00Z"), limit: 10) == [
                iso("2024-01-01T00:15:00Z"), iso("2024-01-01T00:30:00Z"),
                iso("2024-01-01T00:45:00Z"), iso("2024-01-01T01:00:00Z"),
            ]
        )
    }

    @Test func limitKeepsTheOldest() throws {
        let schedule = try CronSchedule(parsing: "*/15 * * * *")
        #expect(
            schedule.fireTimes(after: iso("2024-01-01T00:00:00Z"), through: iso("2024-01-02T00:00:00Z"), limit: 2) == [
                iso("2024-01-01T00:15:00Z"), iso("2024-01-01T00:30:00Z"),
            ]
        )
        #expect(schedule.fireTimes(after: iso("2024-01-01T00:00:00Z"), through: iso("2024-01-02T00:00:00Z"), limit: 0).isEmpty)
        #expect(schedule.fireTimes(after: iso("2024-01-01T00:00:00Z"), through: iso("2024-01-02T00:00:00Z"), limit: -1).isEmpty)
    }

    @Test func emptyWindows() throws {
        let schedule = try CronSchedule(parsing: "*/15 * * * *")
        // Nothing in (00:01, 00:14], and nothing when the window is empty or reversed.
        #expect(schedule.fireTimes(after: iso("2024-01-01T00:01:00Z"), through: iso("2024-01-01T00:14:00Z"), limit: 10).isEmpty)
        #expect(schedule.fireTimes(after: iso("2024-01-01T00:15:00Z"), through: iso("2024-01-01T00:15:00Z"), limit: 10).isEmpty)
        #expect(schedule.fireTimes(after: iso("2024-01-01T01:00:00Z"), through: iso("2024-01-01T00:00:00Z"), limit: 10).isEmpty)
    }

    @Test func everySecondOverTenSeconds() throws {
        let schedule = try CronSchedule(parsing: "@every 1s")
        let times = schedule.fireTimes(after: iso("2024-01-01T00:00:00Z"), through: iso("2024-01-01T00:00:10Z"), limit: 100)
        #expect(times.count == 10)
        #expect(times.first == iso("2024-01-01T00:00:01Z"))
        #expect(times.last == iso("2024-01-01T00:00:10Z"))
        #expect(times == times.sorted())
    }

    @Test func yearlyAcrossADecade() throws {
        let schedule = try CronSchedule(parsing: "@yearly")
        #expect(
            schedule.fireTimes(after: iso("2024-06-01T00:00:00Z"), through: iso("2034-06-01T00:00:00Z"), limit: 3) == [
                iso("2025-01-01T00:00:00Z"), iso("2026-01-01T00:00:00Z"), iso("2027-01-01T00:00:00Z"),
            ]
        )
        #expect(schedule.fireTimes(after: iso("2024-06-01T00:00:00Z"), through: iso("2034-06-01T00:00:00Z"), limit: 100).count == 10)
    }
}

@Suite("Cron schedule: parse errors name the field")
struct CronParseErrorTests {
    @Test(arguments: [
        // Out of range, in every field.
        ("61 * * * *", "minute", "61 is out of range 0-59"),
        ("0 24 * * *", "hour", "24 is out of range 0-23"),
        ("0 0 0 * *", "day of month", "0 is out of range 1-31"),
        ("0 0 32 * *", "day of month", "32 is out of range 1-31"),
        ("0 0 1 13 *", "month", "13 is out of range 1-12"),
        ("0 0 * * 8", "day of week", "8 is out of range 0-7"),
        ("0-60 * * * *", "minute", "60 is out of range 0-59"),
        ("99999999999999999999 * * * *", "minute", "99999999999999999999 is out of range 0-59"),
        // Step 0 and malformed steps.
        ("*/0 * * * *", "minute", "step 0 in '*/0' must be at least 1"),
        ("0 1-5/0 * * *", "hour", "step 0 in '1-5/0' must be at least 1"),
        ("0 0 */x * *", "day of month", "step 'x' in '*/x' is not a number"),
        ("0 0 * */2/3 *", "month", "more than one step in '*/2/3'"),
        // Reversed range.
        ("0 17-9 * * *", "hour", "range 17-9 is reversed; write the smaller value first"),
        ("0 0 * * FRI-MON", "day of week", "range FRI-MON is reversed; write the smaller value first"),
        // Empty list elements.
        ("0 0 1,,15 * *", "day of month", "empty list element in '1,,15'"),
        ("0,5, * * * *", "minute", "empty list element in '0,5,'"),
        ("0 0 * * 1-", "day of week", "missing value in '1-'"),
        // Names: unknown, or in a numeric field.
        ("0 0 1 FOO *", "month", "unknown name 'FOO'; expected JAN-DEC or a number"),
        ("0 0 * * FUNDAY", "day of week", "unknown name 'FUNDAY'; expected SUN-SAT or a number"),
        ("MON * * * *", "minute", "'MON' is not a number"),
        // Field count.
        ("* * * *", "expression", "expected 5 fields, got 4"),
        ("0 0 * * * 2024", "expression", "expected 5 fields, got 6"),
        ("", "expression", "empty expression"),
        ("   ", "expression", "empty expression"),
        // @every durations.
        ("@every", "interval", "missing duration after @every (e.g. @every 5m)"),
        ("@every 0s", "interval", "duration 0s must be longer than zero"),
        ("@every 0h0m", "interval", "duration 0h0m must be longer than zero"),
        ("@every 5", "interval", "invalid duration 5: a number needs a unit (h, m or s); expected a duration like 30s, 5m, 2h or 1h30m"),
        ("@every 5x", "interval", "invalid duration 5x: unexpected 'x'; expected a duration like 30s, 5m, 2h or 1h30m"),
        ("@every -5m", "interval", "invalid duration -5m: unexpected '-'; expected a duration like 30s, 5m, 2h or 1h30m"),
        ("@every 1.5h", "interval", "invalid duration 1.5h: unexpected '.'; expected a duration like 30s, 5m, 2h or 1h30m"),
        ("@every h", "interval", "invalid duration h: 'h' needs a number before it; expected a duration like 30s, 5m, 2h or 1h30m"),
        ("@every 5m 10s", "interval", "expected one duration after @every, got 2 words"),
        ("@every 99999999999999h", "interval", "duration 99999999999999h is too long"),
        // Shortcuts.
        (
            "@reboot", "expression",
            "unknown shortcut @reboot; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>"
        ),
        ("@daily 3", "expression", "@daily takes no arguments"),
    ])
    func rejects(expression: String, field: String, message: String) {
        #expect(parseError(expression) == CronParseError(field: field, message: message))
    }

    @Test func descriptionNamesTheFieldFirst() {
        #expect(parseError("61 * * * *")?.description == "minute: 61 is out of range 0-59")
        #expect(parseError("* * * *")?.description == "expression: expected 5 fields, got 4")
    }

    @Test(arguments: [
        "* * * * *", "0-59 0-23 1-31 1-12 0-7", "0 0 * * 7", "0 0 1 DEC *", "*/1 * * * *", "@every 1s",
        "@every 1h30m", "@every 2H", "@annually", "0 0 * * 7/1",
    ])
    func accepts(expression: String) {
        #expect(parseError(expression) == nil)
    }
}
