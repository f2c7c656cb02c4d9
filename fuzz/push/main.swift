// libFuzzer target: the push protocol's message parsers (Sources/TackPush/PushMessages.swift):
// ClientMessage.parse, which reads every text frame a WebSocket client sends, and
// PushEvent(published:), which reads the events the web role publishes through Redis.
//
// Properties of a client message: it is accepted only as a JSON object of a known type with a
// positive board id and only that type's fields, and a canonical rewrite of what was understood
// parses to the same message; a refusal has one of the protocol's codes, invalid_field names the
// field, and the error reply the server sends for it is valid JSON (the reply quotes the client's
// field names). Properties of a published event: the message pushed to clients is valid JSON
// naming the same board, version and kind; its WebSocket frame header states the payload's
// length; its id is the published one; and the time it carries reads back as the event's time,
// in any year (issue 12's F3: one proleptic Gregorian calendar on every path).

import Foundation
import NIOCore
import TackCore

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPush(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        checkClientMessage(bytes)
        checkPublishedEvent(bytes)
    }
}

func checkClientMessage(_ bytes: [UInt8]) {
    let message: ClientMessage
    do throws(ClientMessage.Refusal) {
        message = try ClientMessage.parse(bytes)
    } catch {
        fuzzExpect(["malformed_message", "invalid_field", "unknown_type"].contains(error.code), "unknown refusal code \(error.code)")
        fuzzExpect((error.code == "invalid_field") == (error.field != nil), "invalid_field without a field, or a field without it")
        let reply = ServerMessage.error(code: error.code, message: error.message, field: error.field)
        guard case .object(let fields)? = try? StrictJSON.parse(reply.readableBytesView) else {
            fuzzFail("the error reply is not a JSON object: \(fuzzShow(String(buffer: reply)))")
        }
        fuzzExpect(fields["type"] == .string("error") && fields["code"] == .string(error.code), "the error reply lost its type or code")
        if let field = error.field { fuzzExpect(fields["field"] == .string(field), "the error reply changed the field name") }
        return
    }
    guard case .object(let fields)? = try? StrictJSON.parse(bytes) else { fuzzFail("accepted a message that is not a JSON object") }
    let canonical: String
    switch message {
    case .subscribe(let board, let after, let afterID):
        fuzzExpect(fields["type"] == .string("subscribe") && board > 0, "subscribe with type \(fuzzShow(fields["type"])) board \(board)")
        fuzzExpect(Set(fields.keys).isSubset(of: ["type", "board", "after", "after_id"]), "subscribe with fields \(fields.keys.sorted())")
        fuzzExpect(after.map { $0 >= 0 } ?? true, "a negative after")
        fuzzExpect(afterID == nil || after != nil, "after_id without after")
        canonical =
            "{\"type\":\"subscribe\",\"board\":\(board)" + (after.map { ",\"after\":\($0)" } ?? "")
            + (afterID.map { ",\"after_id\":\"\($0.uuidString)\"" } ?? "") + "}"
    case .unsubscribe(let board):
        fuzzExpect(fields["type"] == .string("unsubscribe") && board > 0, "unsubscribe with type \(fuzzShow(fields["type"])) board \(board)")
        fuzzExpect(Set(fields.keys).isSubset(of: ["type", "board"]), "unsubscribe with fields \(fields.keys.sorted())")
        canonical = "{\"type\":\"unsubscribe\",\"board\":\(board)}"
    }
    fuzzExpect((try? ClientMessage.parse(Array(canonical.utf8))) == message, "the canonical form \(canonical) reads differently")
}

func checkPublishedEvent(_ bytes: [UInt8]) {
    guard let event = PushEvent(published: bytes) else { return }
    guard case .object(let fields)? = try? StrictJSON.parse(event.json.readableBytesView, limits: .stored) else {
        fuzzFail("the pushed message is not a JSON object: \(fuzzShow(String(buffer: event.json)))")
    }
    guard case .object(let published)? = try? StrictJSON.parse(bytes, limits: .stored) else { fuzzFail("accepted an event that does not parse") }
    fuzzExpect(fields["type"] == .string("event"), "type \(fuzzShow(fields["type"]))")
    fuzzExpect(fields["board"] == .integer(event.board) && published["board_id"] == .integer(event.board), "board changed")
    fuzzExpect(fields["version"] == .integer(event.version) && published["version"] == .integer(event.version), "version changed")
    fuzzExpect(fields["kind"] == published["kind"], "kind changed")
    guard case .string(let publishedID)? = published["id"] else { fuzzFail("accepted an event without an id") }
    fuzzExpect(fields["id"] == .string(event.id.uuidString.lowercased()) && UUID(uuidString: publishedID) == event.id, "id changed")
    // The frame: FIN + text opcode, then the payload length in 7, 7+16 or 7+64 bits.
    var frame = event.frame
    let length = event.json.readableBytes
    fuzzExpect(frame.readInteger(as: UInt8.self) == 0x81, "not a final text frame")
    let stated: Int
    switch frame.readInteger(as: UInt8.self) {
    case 126?: stated = Int(frame.readInteger(as: UInt16.self) ?? 0)
    case 127?: stated = Int(frame.readInteger(as: UInt64.self) ?? 0)
    case let short?: stated = Int(short)
    case nil: stated = -1
    }
    fuzzExpect(stated == length && frame.readableBytes == length, "the frame states \(stated) bytes for a payload of \(length)")
    guard case .string(let at)? = fields["at"] else { fuzzFail("the pushed message has no time") }
    if let readBack = PushEvent.parseTimestamp(at) {
        fuzzExpect(
            abs(readBack.timeIntervalSince1970 - event.committedAt) < 0.001,
            "the event's time \(event.committedAt) is pushed as \(at), which reads back as \(readBack.timeIntervalSince1970)"
        )
    }
}
