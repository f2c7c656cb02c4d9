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
