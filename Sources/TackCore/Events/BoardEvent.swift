import Foundation

/// One entry of a board's event log: what changed, at which board version, by whom.
///
/// Versions are gap-free per board (each write bumps `boards.version` under a row lock and inserts
/// its event in the same transaction), so a client can tell from the numbers alone whether it
/// missed something. A version is not an identity, though: when PostgreSQL loses its newest commits
/// (an asynchronous failover, a point-in-time restore) the next write takes a version that was seen
/// before, so each event also has a random `id`, and whatever was told about an event (webhook
/// receivers, the Redis history, push clients) tells the new one from the old by it.
public struct BoardEvent: Sendable, Equatable {
    /// The board.
    public var boardID: Int64
    /// The board version this event produced (1, 2, 3…).
    public var version: Int64
    /// The event's identity (random; `events.id`).
    public var id: UUID
    /// `id` as JSON, delivery ids and the history stream write it (lower case).
    public var idString: String { id.uuidString.lowercased() }
    /// What happened, e.g. `card.created`.
    public var kind: String
    /// Who did it (nil for the system or a deleted user).
    public var actorID: Int64?
    /// The card it concerns, for card history.
    public var cardID: Int64?
    /// The event's data, as JSON object text.
    public var payload: String
    /// When it was committed.
    public var createdAt: Date

    /// Creates an event.
    public init(boardID: Int64, version: Int64, id: UUID, kind: String, actorID: Int64?, cardID: Int64?, payload: String, createdAt: Date) {
        self.boardID = boardID
        self.version = version
        self.id = id
        self.kind = kind
        self.actorID = actorID
        self.cardID = cardID
        self.payload = payload
        self.createdAt = createdAt
    }

    /// The event as clients, push and webhooks receive it:
    /// `{"board_id":…,"version":…,"id":…,"kind":…,"actor_id":…,"card_id":…,"created_at":…,"payload":{…}}`.
    public var json: String {
        var out = "{\"board_id\":\(boardID),\"version\":\(version),\"id\":\"\(idString)\",\"kind\":\(Self.quote(kind))"
        out += ",\"actor_id\":\(actorID.map(String.init) ?? "null"),\"card_id\":\(cardID.map(String.init) ?? "null")"
        out += ",\"created_at\":\(Self.quote(Self.timestamp(createdAt))),\"payload\":\(payload)}"
        return out
    }

    /// The event as push clients and write replies carry it:
    /// `{"type":"event","board":…,"version":…,"id":…,"kind":…,"actor":…,"card":…,"at":…,"data":{…}}`.
    public var message: String {
        var text = "{\"type\":\"event\",\"board\":\(boardID),\"version\":\(version),\"id\":\"\(idString)\",\"kind\":"
        text += Self.quote(kind)
        text += ",\"actor\":\(actorID.map(String.init) ?? "null"),\"card\":\(cardID.map(String.init) ?? "null")"
        text += ",\"at\":\"\(Self.timestamp(createdAt))\",\"data\":\(payload)}"
        return text
    }

    /// `s` as a JSON string literal (every event is formatted once per publish: no encoder).
    public static func quote(_ s: String) -> String { StrictJSON.quote(s) }

    static func timestamp(_ date: Date) -> String {
        Timestamp.string(from: date, milliseconds: true)
    }
}

/// Every kind of board event Tack writes: what webhooks may subscribe to.
public enum BoardEventKinds {
    /// The kinds, sorted.
    public static let all: [String] = [
        "attachment.added", "attachment.deleted",
        "board.created", "board.updated",
        "card.created", "card.deleted", "card.moved", "card.updated",
        "checklist.created", "checklist.deleted", "checklist.updated",
        "checklist_item.created", "checklist_item.deleted", "checklist_item.updated",
        "column.created", "column.deleted", "column.updated",
        "comment.created", "comment.deleted", "comment.updated",
        "label.created", "label.deleted", "label.updated",
        "member.added", "member.removed", "member.updated",
    ]
    static let known = Set(all)

    /// Whether Tack writes events of `kind`.
    public static func contains(_ kind: String) -> Bool { known.contains(kind) }
}

/// An event about to be written: its kind, actor, card and payload; the version comes from the
/// board row when `EventLog.append` stores it.
public struct BoardEventDraft: Sendable {
    /// What happened.
    public var kind: String
    /// The card concerned, if any.
    public var cardID: Int64?
    /// JSON object text.
    public var payload: String
    /// Who did it (set by the write pipeline for single-writer writes).
    public var actorID: Int64?

    /// Creates a draft with an `Encodable` payload (encoded with snake_case keys as written).
    public init(kind: String, cardID: Int64? = nil, payload: some Encodable, actorID: Int64? = nil) {
        self.kind = kind
        self.cardID = cardID
        self.payload = Self.encode(payload)
        self.actorID = actorID
    }

    /// `value` as event payloads carry it: JSON with snake_case keys (`JSONKeys`), ISO 8601 dates, sorted keys.
    public static func encode(_ value: some Encodable) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Not `.iso8601`: Foundation's formatter is Julian before 1582, PostgreSQL and answers are not.
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.string(from: date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = JSONKeys.encoding
        return encoder
    }()
}
