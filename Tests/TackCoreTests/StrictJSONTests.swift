import Foundation
import Testing

@testable import TackCore

@Suite("StrictJSON: the parser of request bodies and push messages")
struct StrictJSONTests {
    func refusal(_ text: String, limits: StrictJSON.Limits = .messages) -> StrictJSON.ParseError? {
        do {
            _ = try StrictJSON.parse(Array(text.utf8), limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test("valid documents: every kind of value, escapes, whitespace, and a round trip through serialized")
    func validDocuments() throws {
        let text = #" {"a":1,"b":[true,false,null],"c":{"d":"e\n\u00e9\ud83d\ude00\/"},"f":-0.5e-3,"g":"","h":1E2,"i":-0} "#
        let expected = JSONValue.object([
            "a": .integer(1), "b": .array([.bool(true), .bool(false), .null]), "c": .object(["d": .string("e\né😀/")]),
            "f": .double(-0.0005), "g": .string(""), "h": .double(100), "i": .integer(0),
        ])
        #expect(try StrictJSON.parse(text) == expected)
        #expect(try StrictJSON.parse(expected.serialized) == expected)
        // Foundation agrees on what the text holds.
        let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect((foundation?["c"] as? [String: Any])?["d"] as? String == "e\né😀/")
        #expect(try StrictJSON.parse("9223372036854775807") == .integer(Int64.max))
        #expect(try StrictJSON.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try StrictJSON.parse("1.0") == .double(1))
        #expect(try StrictJSON.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try StrictJSON.parse("[]") == .array([]))
        #expect(try StrictJSON.parse("{}") == .object([:]))
    }

    @Test("nesting deeper than the limit is refused where it starts, not after parsing (F1)")
    func deepNestingRefusedAtOnce() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = refusal(deep)
        #expect(error?.reason == "nested deeper than 32 levels")
        #expect(error?.offset == 32, "the parser stopped at the 33rd bracket: \(String(describing: error))")
        let objects = String(repeating: #"{"a":"#, count: 512) + "1" + String(repeating: "}", count: 512)
        #expect(refusal(objects)?.reason == "nested deeper than 32 levels")
        #expect(refusal(objects)?.offset == 32 * 5)
        let atLimit = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(refusal(atLimit) == nil, "32 levels are allowed")
    }

    @Test("more values than the limit are refused at the first one too many")
    func valueCount() {
        let many = "[" + Array(repeating: "0", count: 500_000).joined(separator: ",") + "]"
        let error = refusal(many)
        #expect(error?.reason == "more than 10000 values")
        #expect(error.map { $0.offset < 20_010 } == true, "stopped after 10,000 values: \(String(describing: error))")
        #expect(refusal("[" + Array(repeating: "0", count: 9_999).joined(separator: ",") + "]") == nil)
    }

    @Test("strict as RFC 8259: duplicates, trailing commas, encodings, escapes and numbers (F6)")
    func strictness() {
        let refused: [(String, String)] = [
            (#"{"a":1,"a":2}"#, #"duplicate key "a""#),
            (#"{"a":1,}"#, "expected a key in double quotes"),
            ("[1,2,]", "unexpected character"),
            ("[1 2]", "expected ',' or ']'"),
            (#"{"a" 1}"#, "expected ':' after a key"),
            ("{'a':1}", "expected a key in double quotes"),
            ("\u{FEFF}{}", "a byte order mark is not allowed"),
            ("\"a\u{01}b\"", "a control character in a string must be escaped"),
            (#""\ud800""#, "a lone surrogate in \\u escapes"),
            (#""\udc00x""#, "a lone surrogate in \\u escapes"),
            (#""\x41""#, "unknown escape"),
            (#""\u12G4""#, "a \\u escape needs four hex digits"),
            ("01", "a number must not start with 0"),
            ("1.", "a fraction needs digits"),
            ("1e", "an exponent needs digits"),
            ("-", "a number needs digits"),
            ("NaN", "unexpected character"),
            ("Infinity", "unexpected character"),
            ("1e999", "a number out of range"),
            (String(repeating: "1", count: 65), "a number longer than 64 characters"),
            ("{} {}", "unexpected content after the value"),
            (#"{"a":"#, "unexpected end of input"),
            (#""abc"#, "unterminated string"),
            ("tru", "unexpected end of input"),
            ("", "unexpected end of input"),
        ]
        for (text, reason) in refused {
            #expect(refusal(text)?.reason == reason, "\(text.debugDescription): \(String(describing: refusal(text)))")
        }
        let latin1: [UInt8] = Array(#"{"a":""#.utf8) + [0xE9] + Array(#""}"#.utf8)
        #expect(throws: StrictJSON.ParseError(reason: "a string that is not UTF-8", offset: 6)) { try StrictJSON.parse(latin1) }
        let utf16: [UInt8] = [0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00]
        #expect(throws: StrictJSON.ParseError.self) { try StrictJSON.parse(utf16) }
    }

    @Test("quote escapes what JSON requires and round-trips through the parser")
    func quoteRoundTrip() throws {
        let text = "a\"b\\c\nd\re\tf\u{01}g\u{1F}h/é😀"
        #expect(try StrictJSON.parse(StrictJSON.quote(text)) == .string(text))
    }
}
