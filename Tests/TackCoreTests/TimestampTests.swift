import Foundation
import Testing

@testable import TackCore

@Suite("Timestamps")
struct TimestampTests {
    @Test("the hand-made formatter agrees with ISO8601DateFormatter, with and without milliseconds")
    func agreesWithFoundation() {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        // 951,782,400 is 2000-02-29.
        let fixed: [Double] = [0, 951_782_400, 1_700_000_000.5, 4_102_444_799.999, 253_402_300_799]
        let random = (0..<500).map { _ in Double(Int.random(in: 0...4_102_444_800_000, using: &generator)) / 1000 }
        for seconds in fixed + random {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.string(from: date) == plain.string(from: date))
            #expect(Timestamp.string(from: date, milliseconds: true) == fractional.string(from: date), "\(seconds)")
        }
    }
}

/// RFC 3339 text in and out of Tack in the proleptic Gregorian calendar, as PostgreSQL stores it:
/// Foundation's calendars switch to the Julian calendar before 1582-10-15, which moved such dates
/// by days on the way in or out and made every read-and-write-back drift.
@Suite("Timestamps before the Gregorian reform")
struct ProlepticTimestampTests {
    /// Seconds since 1970 of each date in the proleptic Gregorian calendar, computed independently
    /// (Python's `datetime`, which is proleptic: `datetime(1000, 3, 1, tzinfo=timezone.utc).timestamp()`).
    static let known: [(String, Double)] = [
        ("0001-01-01T00:00:00Z", -62_135_596_800),
        ("1000-03-01T00:00:00Z", -30_605_126_400),
        ("1000-06-15T12:00:00Z", -30_595_924_800),
        ("1200-02-29T12:00:00Z", -24_293_736_000),
        ("1500-01-01T00:00:00Z", -14_831_769_600),
        ("1582-10-04T00:00:00Z", -12_220_243_200),
        ("1582-10-15T00:00:00Z", -12_219_292_800),
        ("9999-12-31T23:59:59Z", 253_402_300_799),
    ]

    @Test("parsing and formatting agree with the proleptic Gregorian calendar", arguments: known)
    func knownInstants(text: String, seconds: Double) throws {
        let date = try #require(ISO8601Parsing.date(text))
        #expect(date.timeIntervalSince1970 == seconds)
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: seconds)) == text)
    }

    @Test("text round-trips exactly through parse and format, with and without milliseconds", arguments: known.map(\.0))
    func roundTrip(text: String) throws {
        var current = text
        for _ in 0..<3 {  // no drift on repeated round trips
            current = Timestamp.string(from: try #require(ISO8601Parsing.date(current)))
        }
        #expect(current == text)
        let withMilliseconds = text.replacingOccurrences(of: "Z", with: ".250Z")
        #expect(Timestamp.string(from: try #require(ISO8601Parsing.date(withMilliseconds)), milliseconds: true) == withMilliseconds)
    }

    @Test("every day from year 1 to 9999 survives days-from-civil and back")
    func everyDay() {
        var dayNumber = CivilCalendar.days(fromYear: 1, month: 1, day: 1)!
        var failures = 0
        for year in 1...9999 {
            for month in 1...12 {
                for day in 1...CivilCalendar.daysIn(month: month, year: year) {
                    if CivilCalendar.days(fromYear: year, month: month, day: day) != dayNumber
                        || CivilCalendar.date(fromDays: dayNumber) != (year, month, day)
                    {
                        failures += 1
                    }
                    dayNumber += 1
                }
            }
        }
        #expect(failures == 0)
        #expect(dayNumber == CivilCalendar.days(fromYear: 10000, month: 1, day: 1))
        #expect(CivilCalendar.weekday(ofDays: CivilCalendar.days(fromYear: 1582, month: 10, day: 15)!) == 5)  // a Friday
        #expect(CivilCalendar.weekday(ofDays: CivilCalendar.days(fromYear: 1, month: 1, day: 1)!) == 1)  // a Monday
    }

    @Test(
        "real days and times are accepted, others refused",
        arguments: [
            ("1200-02-29T12:00:00Z", true), ("1600-02-29T00:00:00Z", true), ("2000-02-29T00:00:00Z", true), ("1100-02-29T00:00:00Z", false),
            ("1900-02-29T00:00:00Z", false), ("1582-10-10T00:00:00Z", true), ("2024-02-30T00:00:00Z", false), ("2025-13-01T00:00:00Z", false),
            ("2025-01-31T24:00:00Z", false), ("2025-01-31T23:60:00Z", false), ("2025-01-31T23:59:60Z", false), ("0000-01-01T00:00:00Z", false),
            ("-0001-01-01T00:00:00Z", false), ("0001-01-01T00:00:00+01:00", false), ("0001-01-01T00:00:00-01:00", true),
            ("9999-12-31T23:59:59-01:00", false), ("9999-12-31T23:59:59.9999Z", false), ("9999-12-31T23:59:59.999Z", true),
            ("2025-01-31t17:00:00z", true), ("2025-01-31T17:00:00.123456789+23:59", true), ("2025-01-31T17:00:00.1234567891Z", false),
            ("2025-01-31T17:00:00.Z", false), ("2025-01-31T17:00:00+24:00", false), ("2025-01-31T17:00:00+0100", false),
            ("2025-01-31 17:00:00Z", false), ("2025-01-31T17:00Z", false), ("2025-01-31", false), ("2025-01-31T17:00:00", false),
            ("2025-01-31T17:00:00Z ", false), ("２０２５-01-31T17:00:00Z", false),
        ]
    )
    func validity(text: String, accepted: Bool) {
        #expect((ISO8601Parsing.date(text) != nil) == accepted)
    }

    @Test("offsets and fractions give the instant they denote")
    func offsets() throws {
        #expect(ISO8601Parsing.date("2025-01-31T18:00:00.250+01:00")?.timeIntervalSince1970 == 1_738_342_800.25)
        #expect(ISO8601Parsing.date("1000-02-28T22:30:00-01:30") == ISO8601Parsing.date("1000-03-01T00:00:00Z"))
    }

    @Test("event payloads write dates as answers do")
    func eventPayloads() {
        struct Payload: Encodable { var dueAt: Date }
        let payload = BoardEventDraft.encode(Payload(dueAt: Date(timeIntervalSince1970: -30_605_126_400)))
        #expect(payload == #"{"due_at":"1000-03-01T00:00:00Z"}"#)
    }
}
