import Foundation
import TackCore

/// A JSON field that distinguishes "absent" (leave as is) from `null` (clear) in PATCH bodies.
enum Patch<Value: Decodable & Sendable>: Sendable {
    case absent
    case null
    case value(Value)

    var value: Value? {
        if case .value(let v) = self { return v }
        return nil
    }
}

extension KeyedDecodingContainer {
    func decodePatch<Value: Decodable & Sendable>(_ type: Value.Type, forKey key: Key) throws -> Patch<Value> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(Value.self, forKey: key))
    }
}

/// Field rules shared by the board endpoints: each failure names the field.
enum Validate {
    static func text(_ value: String, field: String, min: Int = 1, max: Int) throws -> String {
        let trimmed = min > 0 ? value.trimmingCharacters(in: .whitespacesAndNewlines) : value
        guard trimmed.count >= min else {
            throw APIError.invalid(field, min == 1 ? "\(field) must not be empty." : "\(field) needs at least \(min) characters.")
        }
        guard trimmed.count <= max else { throw APIError.invalid(field, "\(field) must be at most \(max) characters.") }
        return trimmed
    }

    static func range(_ value: Int, field: String, _ range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else { throw APIError.invalid(field, "\(field) must be from \(range.lowerBound) to \(range.upperBound).") }
        return value
    }

    static func color(_ value: String, field: String) throws -> String {
        let ok = value.count == 7 && value.first == "#" && value.dropFirst().allSatisfy(\.isHexDigit)
        guard ok else { throw APIError.invalid(field, "\(field) must be a colour like #3a7bd5.") }
        return value.lowercased()
    }
}

struct CreateBoardRequest: Decodable, Sendable {
    var name: String
    var description: String?
}

struct UpdateBoardRequest: Decodable, Sendable {
    var name: String?
    var description: String?
    var archived: Bool?
    var expectedVersion: Int64?
}

struct SetMemberRequest: Decodable, Sendable {
    var email: String
    var role: BoardRole
}

struct CreateColumnRequest: Decodable, Sendable {
    var name: String
    var wipLimit: Int?
    var index: Int?
}

struct UpdateColumnRequest: Decodable, Sendable {
    var name: String?
    var wipLimit: Patch<Int>
    var index: Int?
    var archived: Bool?
    var expectedVersion: Int64?

    enum CodingKeys: CodingKey {
        case name, index, archived
        case wipLimit
        case expectedVersion
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        wipLimit = try c.decodePatch(Int.self, forKey: .wipLimit)
        index = try c.decodeIfPresent(Int.self, forKey: .index)
        archived = try c.decodeIfPresent(Bool.self, forKey: .archived)
        expectedVersion = try c.decodeIfPresent(Int64.self, forKey: .expectedVersion)
    }
}

struct CreateCardRequest: Decodable, Sendable {
    var columnID: Int64
    var title: String
    var description: String?
    var index: Int?
    var dueAt: Date?
    var dueHasTime: Bool?
    var done: Bool?
    var assignees: [Int64]?
    var labels: [Int64]?
}

struct UpdateCardRequest: Decodable, Sendable {
    var title: String?
    var description: String?
    var dueAt: Patch<Date>
    var dueHasTime: Bool?
    var done: Bool?
    var archived: Bool?
    var assignees: [Int64]?
    var labels: [Int64]?
    var addAssignees: [Int64]?
    var removeAssignees: [Int64]?
    var addLabels: [Int64]?
    var removeLabels: [Int64]?
    var coverAttachmentID: Patch<Int64>
    var expectedVersion: Int64?

    enum CodingKeys: CodingKey {
        case title, description, done, archived, assignees, labels
        case coverAttachmentID
        case dueAt
        case dueHasTime
        case addAssignees
        case removeAssignees
        case addLabels
        case removeLabels
        case expectedVersion
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        dueAt = try c.decodePatch(Date.self, forKey: .dueAt)
        dueHasTime = try c.decodeIfPresent(Bool.self, forKey: .dueHasTime)
        done = try c.decodeIfPresent(Bool.self, forKey: .done)
        archived = try c.decodeIfPresent(Bool.self, forKey: .archived)
        assignees = try c.decodeIfPresent([Int64].self, forKey: .assignees)
        labels = try c.decodeIfPresent([Int64].self, forKey: .labels)
        addAssignees = try c.decodeIfPresent([Int64].self, forKey: .addAssignees)
        removeAssignees = try c.decodeIfPresent([Int64].self, forKey: .removeAssignees)
        addLabels = try c.decodeIfPresent([Int64].self, forKey: .addLabels)
        removeLabels = try c.decodeIfPresent([Int64].self, forKey: .removeLabels)
        coverAttachmentID = try c.decodePatch(Int64.self, forKey: .coverAttachmentID)
        expectedVersion = try c.decodeIfPresent(Int64.self, forKey: .expectedVersion)
    }
}

/// Where a card goes: a column and index, or just after or before another card.
struct MoveCardRequest: Decodable, Sendable {
    var columnID: Int64?
    var index: Int?
    var after: Int64?
    var before: Int64?
}

struct CommentRequest: Decodable, Sendable {
    var body: String
}

struct UpdateCommentRequest: Decodable, Sendable {
    var body: String
    var expectedVersion: Int64?
}

struct CreateLabelRequest: Decodable, Sendable {
    var name: String
    var color: String
}

struct UpdateLabelRequest: Decodable, Sendable {
    var name: String?
    var color: String?
    var expectedVersion: Int64?
}

struct CreateChecklistRequest: Decodable, Sendable {
    var title: String
    var items: [CreateChecklistItemRequest]?
}

struct UpdateChecklistRequest: Decodable, Sendable {
    var title: String?
    var index: Int?
    var expectedVersion: Int64?
}

struct CreateChecklistItemRequest: Decodable, Sendable {
    var text: String
    var done: Bool?
    var assigneeID: Int64?
    var dueAt: Date?
    var index: Int?
}

struct UpdateChecklistItemRequest: Decodable, Sendable {
    var text: String?
    var done: Bool?
    var assigneeID: Patch<Int64>
    var dueAt: Patch<Date>
    var checklistID: Int64?
    var index: Int?
    var expectedVersion: Int64?

    enum CodingKeys: CodingKey {
        case text, done, index
        case assigneeID
        case dueAt
        case checklistID
        case expectedVersion
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        text = try c.decodeIfPresent(String.self, forKey: .text)
        done = try c.decodeIfPresent(Bool.self, forKey: .done)
        assigneeID = try c.decodePatch(Int64.self, forKey: .assigneeID)
        dueAt = try c.decodePatch(Date.self, forKey: .dueAt)
        checklistID = try c.decodeIfPresent(Int64.self, forKey: .checklistID)
        index = try c.decodeIfPresent(Int.self, forKey: .index)
        expectedVersion = try c.decodeIfPresent(Int64.self, forKey: .expectedVersion)
    }
}
