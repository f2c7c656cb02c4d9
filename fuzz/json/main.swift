// libFuzzer target: StrictJSON, the reader of request bodies and push messages.
//
// Properties: a refusal points inside the input; only UTF-8 is accepted; what is accepted
// serialises to text that parses back to the same value and serialises identically (parse →
// serialise → parse is the identity); the byte and String entry points agree; Foundation's
// JSONSerialization accepts everything StrictJSON accepts (StrictJSON is the stricter reader).

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        let text = String(validating: bytes, as: UTF8.self)
        let value: JSONValue
        do throws(StrictJSON.ParseError) {
            value = try StrictJSON.parse(bytes)
        } catch {
            fuzzExpect(error.offset >= 0 && error.offset <= bytes.count, "refusal offset \(error.offset) outside \(bytes.count) bytes")
            if let text {
                fuzzExpect((try? StrictJSON.parse(text)) == nil, "the String entry point accepted what the byte one refused")
            }
            return
        }
        guard let text else { fuzzFail("accepted bytes that are not UTF-8") }
        fuzzExpect((try? StrictJSON.parse(text)) == value, "the String entry point disagrees with the byte one")
        let serialized = value.serialized
        let again: JSONValue
        do {
            again = try StrictJSON.parse(serialized)
        } catch {
            fuzzFail("its own serialisation \(fuzzShow(serialized)) does not parse: \(error)")
        }
        fuzzExpect(again == value, "parse(serialise(v)) != v for \(fuzzShow(serialized))")
        fuzzExpect(again.serialized == serialized, "serialisation not stable: \(fuzzShow(serialized))")
        let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        fuzzExpect(foundation != nil, "JSONSerialization refuses what StrictJSON accepted: \(fuzzShow(text))")
    }
}
