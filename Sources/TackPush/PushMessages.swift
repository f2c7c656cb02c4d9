import Foundation
import NIOCore
import TackCore

/// One board event ready to send: parsed once per process, serialised once into the buffer every
/// recipient shares (`{"type":"event",…}`), never per connection.
final class PushEvent: Sendable {
    let board: Int64
    let version: Int64
    /// The event's identity: a version seen before under another id means PostgreSQL lost commits.
    let id: UUID
    /// The user a `member.removed` event removed: their subscriptions end with it.
    let removedUser: Int64?
    /// When the event was committed (seconds since 1970), for the publish-to-send histogram.
    let committedAt: Double
    /// The message as clients receive it.
    let json: ByteBuffer
    /// The same message as a whole WebSocket frame (header and payload), written as it is to every
    /// WebSocket recipient: no per-recipient encoding or header allocation.
    let frame: ByteBuffer

    init(_ event: BoardEvent) {
        board = event.boardID
        version = event.version
        id = event.id
        committedAt = event.createdAt.timeIntervalSince1970
        if event.kind == "member.removed", case .object(let payload)? = try? StrictJSON.parse(event.payload, limits: .stored),
            case .integer(let user)? = payload["user_id"]
        {
            removedUser = user
        } else {
            removedUser = nil
        }
        json = ByteBuffer(string: event.message)
        frame = WebSocketWire.textFrame(json)
    }

    /// Reads an event as `EventPublisher` publishes it (`BoardEvent.json`); nil for anything else.
    convenience init?(published bytes: some Collection<UInt8>) {
        guard case .object(let fields)? = try? StrictJSON.parse(bytes, limits: .stored),
            case .integer(let board)? = fields["board_id"], case .integer(let version)? = fields["version"],
            case .string(let idText)? = fields["id"], let id = UUID(uuidString: idText),
            case .string(let kind)? = fields["kind"], case .string(let at)? = fields["created_at"],
            let payload = fields["payload"], let createdAt = Self.parseTimestamp(at)
        else { return nil }
        func optionalID(_ key: String) -> Int64? {
            if case .integer(let id)? = fields[key] { return id }
            return nil
        }
        self.init(
            BoardEvent(
                boardID: board,
                version: version,
                id: id,
                kind: kind,
                actorID: optionalID("actor_id"),
                cardID: optionalID("card_id"),
                payload: payload.serialized,
                createdAt: createdAt
            )
        )
    }

    /// `2026-12-04T10:00:00.123Z`, the only shape `Timestamp.string(from:milliseconds:)` writes.
    static func parseTimestamp(_ text: String) -> Date? {
        let bytes = text.utf8
        guard bytes.count == 24, bytes.last == UInt8(ascii: "Z"), bytes.dropFirst(19).first == UInt8(ascii: ".") else { return nil }
        return ISO8601Parsing.date(text)
    }
}

/// What a client may send (`docs/push-protocol.md`).
enum ClientMessage: Equatable {
    /// `afterID`: the id of the client's event at version `after`, when it has one; a different id
    /// on the server means the history was rewritten since (`resync`).
    case subscribe(board: Int64, after: Int64?, afterID: UUID?)
    case unsubscribe(board: Int64)

    /// A message refused, answered with an `error` message.
    struct Refusal: Error, Equatable {
        var code: String
        var message: String
        var field: String?
    }

    /// Parses one text message.
    static func parse(_ bytes: some Collection<UInt8>) throws(Refusal) -> ClientMessage {
        let root: JSONValue
        do {
            root = try StrictJSON.parse(bytes, limits: .messages)
        } catch {
            throw Refusal(code: "malformed_message", message: "The message is not valid JSON: \(error).")
        }
        guard case .object(let fields) = root else {
            throw Refusal(code: "malformed_message", message: "A message must be a JSON object with a type.")
        }
        guard let typeValue = fields["type"] else { throw Refusal(code: "invalid_field", message: "type is required.", field: "type") }
        guard case .string(let type) = typeValue else { throw Refusal(code: "invalid_field", message: "type must be a string.", field: "type") }
        let allowed: Set<String>
        switch type {
        case "subscribe": allowed = ["type", "board", "after", "after_id"]
        case "unsubscribe": allowed = ["type", "board"]
        default: throw Refusal(code: "unknown_type", message: "Unknown message type; this server understands subscribe and unsubscribe.")
        }
        if let unknown = fields.keys.filter({ !allowed.contains($0) }).sorted().first {
            throw Refusal(code: "invalid_field", message: "\(unknown) is not a field of \(type).", field: unknown)
        }
        guard case .integer(let board)? = fields["board"], board > 0 else {
            throw Refusal(code: "invalid_field", message: "board must be a board id (a positive integer).", field: "board")
        }
        if type == "unsubscribe" { return .unsubscribe(board: board) }
        let after: Int64?
        switch fields["after"] {
        case nil, .null?: after = nil
        case .integer(let value)? where value >= 0: after = value
        default: throw Refusal(code: "invalid_field", message: "after must be a version (an integer from 0).", field: "after")
        }
        switch fields["after_id"] {
        case nil, .null?: return .subscribe(board: board, after: after, afterID: nil)
        case .string(let text)? where after != nil:
            guard let id = UUID(uuidString: text) else {
                throw Refusal(code: "invalid_field", message: "after_id must be an event id (a UUID).", field: "after_id")
            }
            return .subscribe(board: board, after: after, afterID: id)
        default:
            throw Refusal(code: "invalid_field", message: "after_id must be the id of the event at version after (a UUID string).", field: "after_id")
        }
    }
}

/// Why a board's listeners are told to reload it.
enum ResyncReason: String, Sendable {
    /// The history no longer holds every version missing.
    case pruned = "history_pruned"
    /// PostgreSQL lost commits the client was sent (a failover, a restore): versions after
    /// `version` will be new events, whatever the client holds under those numbers.
    case rewritten = "history_rewritten"
}

/// The server's messages other than events.
enum ServerMessage {
    static func subscribed(board: Int64, version: Int64) -> ByteBuffer {
        ByteBuffer(string: "{\"type\":\"subscribed\",\"board\":\(board),\"version\":\(version)}")
    }

    static func resync(board: Int64, reason: String, version: Int64) -> ByteBuffer {
        ByteBuffer(string: "{\"type\":\"resync\",\"board\":\(board),\"reason\":\(StrictJSON.quote(reason)),\"version\":\(version)}")
    }

    static func unsubscribed(board: Int64, reason: String) -> ByteBuffer {
        ByteBuffer(string: "{\"type\":\"unsubscribed\",\"board\":\(board),\"reason\":\(StrictJSON.quote(reason))}")
    }

    static func presence(board: Int64, users: [(id: Int64, name: String)]) -> ByteBuffer {
        let list = users.map { "{\"id\":\($0.id),\"name\":\(StrictJSON.quote($0.name))}" }.joined(separator: ",")
        return ByteBuffer(string: "{\"type\":\"presence\",\"board\":\(board),\"users\":[\(list)]}")
    }

    static func error(code: String, message: String, field: String? = nil, board: Int64? = nil) -> ByteBuffer {
        var text = "{\"type\":\"error\",\"code\":\(StrictJSON.quote(code)),\"message\":\(StrictJSON.quote(message))"
        if let field { text += ",\"field\":\(StrictJSON.quote(field))" }
        if let board { text += ",\"board\":\(board)" }
        return ByteBuffer(string: text + "}")
    }
}

/// Close codes of the push protocol.
enum PushCloseCode {
    /// Not signed in any more: the session ended or the token was revoked.
    static let notSignedIn: UInt16 = 4401
    /// Forbidden.
    static let forbidden: UInt16 = 4403
    /// The client stopped reading; it should resume from its last version.
    static let tooSlow: UInt16 = 4008
    /// The server is draining: reconnect, maybe elsewhere.
    static let draining: UInt16 = 1012
    /// Binary messages are not part of the protocol.
    static let unsupportedData: UInt16 = 1003
    /// Rate limit exceeded again and again.
    static let policyViolation: UInt16 = 1008
    /// No pong to the last ping.
    static let goingAway: UInt16 = 1001
}

/// Server-to-client WebSocket frames built by hand (RFC 6455 section 5.2: FIN, opcode, unmasked
/// length), so a message shared by many recipients is framed once.
enum WebSocketWire {
    static func textFrame(_ payload: ByteBuffer) -> ByteBuffer {
        let length = payload.readableBytes
        var out = ByteBuffer()
        out.reserveCapacity(length + 10)
        out.writeInteger(UInt8(0x81))
        if length < 126 {
            out.writeInteger(UInt8(length))
        } else if length <= 0xFFFF {
            out.writeInteger(UInt8(126))
            out.writeInteger(UInt16(length))
        } else {
            out.writeInteger(UInt8(127))
            out.writeInteger(UInt64(length))
        }
        out.writeImmutableBuffer(payload)
        return out
    }
}
