import Foundation

/// A board read from a Trello export, checked and shaped to Tack's rules, ready to be written in
/// one transaction (`BoardStore.importBoard`). Indexes refer to the plan's own arrays; Trello ids
/// appear only where a member is matched.
public struct TrelloBoardPlan: Sendable, Equatable {
    /// A label: a name unique on the board (an unnamed Trello label is named after its colour).
    public struct Label: Sendable, Equatable {
        public var name: String
        public var color: String
    }
    /// A list, in Trello's order.
    public struct Column: Sendable, Equatable {
        public var name: String
        public var archived: Bool
    }
    /// A checklist item.
    public struct Item: Sendable, Equatable {
        public var text: String
        public var done: Bool
        public var memberID: String?
        public var dueAt: Date?
    }
    /// A checklist with its items in order.
    public struct Checklist: Sendable, Equatable {
        public var title: String
        public var items: [Item]
    }
    /// A comment (from a `commentCard` action).
    public struct Comment: Sendable, Equatable {
        public var memberID: String?
        public var authorName: String
        public var at: Date
        public var text: String
    }
    /// A card, in its list's order.
    public struct Card: Sendable, Equatable {
        public var column: Int
        public var title: String
        public var description: String
        public var dueAt: Date?
        public var done: Bool
        public var archived: Bool
        public var labels: [Int]
        public var memberIDs: [String]
        public var checklists: [Checklist]
        public var comments: [Comment]
    }
    /// A member of the Trello board, matched to a Tack account by email or username.
    public struct Member: Sendable, Equatable {
        public var id: String
        public var username: String?
        public var fullName: String?
        public var email: String?
    }

    public var name: String
    public var description: String
    public var labels: [Label]
    public var columns: [Column]
    /// Cards by column, then in order.
    public var cards: [Card]
    public var members: [Member]

    /// Checklist items over all cards (for progress).
    public var itemCount: Int { cards.reduce(0) { $0 + $1.checklists.reduce(0) { $0 + $1.items.count } } }
    /// Comments over all cards.
    public var commentCount: Int { cards.reduce(0) { $0 + $1.comments.count } }
}

/// Why a file is not a Trello board export Tack can take: where (`cards[12].idList`) and what.
public struct TrelloImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A JSON path into the file, or `file`.
    public var path: String
    /// What is wrong, in people's words.
    public var message: String

    public var description: String { "\(path): \(message)" }
}

/// Reads the JSON that Trello's "Print and export → Export as JSON" gives: `name`, `desc`,
/// `labels`, `lists`, `cards`, `checklists`, `members` and `actions` (comments are the
/// `commentCard` actions). Texts longer than Tack takes are cut (marked with "…"), never refused;
/// a file that is not such an export, or larger than the limits, is refused with where and why.
public enum TrelloImport {
    /// How much one import may hold.
    public struct Limits: Sendable {
        public var lists = 1_000
        public var cards = 20_000
        public var labels = 1_000
        public var comments = 200_000
        public var items = 200_000

        public init() {}
    }

    /// Trello's label colours as Tack's `#rrggbb`.
    static let colors: [String: String] = [
        "green": "#4bce97", "yellow": "#e2b203", "orange": "#faa53d", "red": "#f87462", "purple": "#9f8fef",
        "blue": "#579dff", "sky": "#6cc3e0", "lime": "#94c748", "pink": "#e774bb", "black": "#8590a2",
        "green_dark": "#1f845a", "yellow_dark": "#946f00", "orange_dark": "#c25100", "red_dark": "#c9372c", "purple_dark": "#6e5dc6",
        "blue_dark": "#0c66e4", "sky_dark": "#227d9b", "lime_dark": "#5b7f24", "pink_dark": "#ae4787", "black_dark": "#626f86",
        "green_light": "#baf3db", "yellow_light": "#f8e6a0", "orange_light": "#fedec8", "red_light": "#ffd5d2", "purple_light": "#dfd8fd",
        "blue_light": "#cce0ff", "sky_light": "#c6edfb", "lime_light": "#d3f1a7", "pink_light": "#fdd0ec", "black_light": "#dcdfe4",
    ]
    static let noColor = "#b3b9c4"

    /// The plan of an export, or where and why it cannot be imported.
    public static func plan(_ bytes: [UInt8], limits: Limits = Limits()) throws(TrelloImportError) -> TrelloBoardPlan {
        let root: JSONValue
        do {
            root = try StrictJSON.parse(bytes, limits: StrictJSON.Limits(depth: 64, values: 20_000_000))
        } catch {
            throw TrelloImportError(path: "file", message: "is not valid JSON (\(error.description)).")
        }
        let board = Node(value: root, path: "")
        guard case .object = root else { throw TrelloImportError(path: "file", message: "is not a Trello board export (a JSON object).") }
        let name = try board.string("name")
        guard board["lists"].value != nil, board["cards"].value != nil else {
            throw TrelloImportError(path: "file", message: "is not a Trello board export: it has no lists or no cards.")
        }

        // Labels: unnamed ones take their colour's name; names are made unique.
        let labelNodes = try board.array("labels", optional: true, limit: limits.labels)
        var labels: [TrelloBoardPlan.Label] = []
        var labelIndex: [String: Int] = [:]
        var taken = Set<String>()
        for node in labelNodes {
            let id = try node.string("id")
            let color = try node.optionalString("color")
            var name = fit(try node.optionalString("name") ?? "", BoardRules.labelNameLength)
            if name.isEmpty { name = color.map { $0.replacingOccurrences(of: "_", with: " ").capitalized } ?? "Label" }
            name = unique(name, in: &taken, limit: BoardRules.labelNameLength)
            labelIndex[id] = labels.count
            labels.append(TrelloBoardPlan.Label(name: name, color: color.flatMap { colors[$0] } ?? noColor))
        }

        // Lists in Trello's order.
        let listNodes = try board.array("lists", limit: limits.lists)
        var lists: [(id: String, pos: Double, index: Int, column: TrelloBoardPlan.Column)] = []
        for (index, node) in listNodes.enumerated() {
            let title = fit(try node.optionalString("name") ?? "", BoardRules.columnNameLength)
            lists.append(
                (
                    try node.string("id"), try node.number("pos") ?? Double(index), index,
                    TrelloBoardPlan.Column(name: title.isEmpty ? "Untitled list" : title, archived: try node.bool("closed") ?? false)
                )
            )
        }
        lists.sort { ($0.pos, $0.index) < ($1.pos, $1.index) }
        var columnIndex: [String: Int] = [:]
        for (index, list) in lists.enumerated() { columnIndex[list.id] = index }

        // Checklists and comments, by card.
        var checklistsByCard: [String: [(pos: Double, index: Int, checklist: TrelloBoardPlan.Checklist)]] = [:]
        var itemTotal = 0
        for (index, node) in try board.array("checklists", optional: true, limit: limits.cards * BoardRules.checklistsPerCard).enumerated() {
            let card = try node.string("idCard")
            var items: [(pos: Double, index: Int, item: TrelloBoardPlan.Item)] = []
            let itemNodes = try node.array("checkItems", optional: true, limit: BoardRules.itemsPerChecklist)
            itemTotal += itemNodes.count
            guard itemTotal <= limits.items else {
                throw TrelloImportError(path: "checklists", message: "hold more than \(limits.items) items; Tack imports at most that many.")
            }
            for (itemIndex, itemNode) in itemNodes.enumerated() {
                let text = fit(try itemNode.optionalString("name") ?? "", BoardRules.checklistItemLength)
                items.append(
                    (
                        try itemNode.number("pos") ?? Double(itemIndex), itemIndex,
                        TrelloBoardPlan.Item(
                            text: text.isEmpty ? "(empty)" : text,
                            done: try itemNode.optionalString("state") == "complete",
                            memberID: try itemNode.optionalString("idMember"),
                            dueAt: try itemNode.date("due")
                        )
                    )
                )
            }
            items.sort { ($0.pos, $0.index) < ($1.pos, $1.index) }
            let title = fit(try node.optionalString("name") ?? "", BoardRules.checklistTitleLength)
            checklistsByCard[card, default: []].append(
                (
                    try node.number("pos") ?? Double(index), index,
                    TrelloBoardPlan.Checklist(title: title.isEmpty ? "Checklist" : title, items: items.map(\.item))
                )
            )
        }
        for (card, list) in checklistsByCard where list.count > BoardRules.checklistsPerCard {
            throw TrelloImportError(
                path: "checklists",
                message: "card \(card) has \(list.count) checklists; Tack takes at most \(BoardRules.checklistsPerCard) per card."
            )
        }

        var commentsByCard: [String: [TrelloBoardPlan.Comment]] = [:]
        var commentTotal = 0
        for node in try board.array("actions", optional: true, limit: Int.max) {
            guard try node.optionalString("type") == "commentCard" else { continue }
            commentTotal += 1
            guard commentTotal <= limits.comments else {
                throw TrelloImportError(path: "actions", message: "hold more than \(limits.comments) comments; Tack imports at most that many.")
            }
            let data = node["data"]
            guard let card = try data["card"].optionalString("id") else { continue }
            let creator = node["memberCreator"]
            let text = fit(try data.optionalString("text") ?? "", BoardRules.commentLength - 200)
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            let creatorID = try creator.optionalString("id")
            let fullName = try creator.optionalString("fullName")
            let username = try creator.optionalString("username")
            commentsByCard[card, default: []].append(
                TrelloBoardPlan.Comment(
                    memberID: try node.optionalString("idMemberCreator") ?? creatorID,
                    authorName: fullName ?? username ?? "A Trello member",
                    at: try node.date("date") ?? Date(timeIntervalSince1970: 0),
                    text: text
                )
            )
        }

        // Cards by list, in order.
        let cardNodes = try board.array("cards", limit: limits.cards)
        var cards: [(column: Int, pos: Double, index: Int, card: TrelloBoardPlan.Card)] = []
        for (index, node) in cardNodes.enumerated() {
            let id = try node.string("id")
            let list = try node.string("idList")
            guard let column = columnIndex[list] else {
                throw TrelloImportError(path: node.path + ".idList", message: "names no list of the board (\(list)).")
            }
            let title = fit(try node.optionalString("name") ?? "", BoardRules.cardTitleLength)
            let checklists = (checklistsByCard[id] ?? []).sorted { ($0.pos, $0.index) < ($1.pos, $1.index) }.map(\.checklist)
            let card = TrelloBoardPlan.Card(
                column: column,
                title: title.isEmpty ? "Untitled card" : title,
                description: fit(try node.optionalString("desc") ?? "", BoardRules.cardDescriptionLength),
                dueAt: try node.date("due"),
                done: try node.bool("dueComplete") ?? false,
                archived: try node.bool("closed") ?? false,
                labels: try node.strings("idLabels").compactMap { labelIndex[$0] },
                memberIDs: try node.strings("idMembers"),
                checklists: checklists,
                // Trello lists actions newest first.
                comments: (commentsByCard[id] ?? []).sorted { $0.at < $1.at }
            )
            cards.append((column, try node.number("pos") ?? Double(index), index, card))
        }
        cards.sort { ($0.column, $0.pos, $0.index) < ($1.column, $1.pos, $1.index) }

        var members: [TrelloBoardPlan.Member] = []
        for node in try board.array("members", optional: true, limit: 10_000) {
            members.append(
                TrelloBoardPlan.Member(
                    id: try node.string("id"),
                    username: try node.optionalString("username"),
                    fullName: try node.optionalString("fullName"),
                    email: try node.optionalString("email")
                )
            )
        }

        let boardName = fit(name, BoardRules.boardNameLength)
        return TrelloBoardPlan(
            name: boardName.isEmpty ? "Imported from Trello" : boardName,
            description: fit(try board.optionalString("desc") ?? "", BoardRules.boardDescriptionLength),
            labels: labels,
            columns: lists.map(\.column),
            cards: cards.map(\.card),
            members: members
        )
    }

    /// `text` trimmed and cut to `limit` characters (the last one "…" when cut).
    static func fit(_ text: String, _ limit: Int) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count > limit else { return trimmed }
        return String(trimmed.prefix(limit - 1)) + "…"
    }

    /// `name`, or `name 2`, `name 3`… the first not yet in `taken` (case-insensitively).
    static func unique(_ name: String, in taken: inout Set<String>, limit: Int) -> String {
        var candidate = name
        var n = 2
        while taken.contains(candidate.lowercased()) {
            let suffix = " \(n)"
            candidate = String(name.prefix(limit - suffix.count)) + suffix
            n += 1
        }
        taken.insert(candidate.lowercased())
        return candidate
    }

    /// A value of the file with its JSON path, for errors that say where.
    struct Node {
        let value: JSONValue?
        let path: String

        subscript(key: String) -> Node {
            if case .object(let members) = value { return Node(value: members[key], path: path.isEmpty ? key : "\(path).\(key)") }
            return Node(value: nil, path: path.isEmpty ? key : "\(path).\(key)")
        }

        func fail(_ key: String, _ message: String) -> TrelloImportError {
            TrelloImportError(path: path.isEmpty ? key : "\(path).\(key)", message: message)
        }

        func string(_ key: String) throws(TrelloImportError) -> String {
            guard let value = try optionalString(key) else { throw fail(key, "is missing; it must be a string.") }
            return value
        }

        func optionalString(_ key: String) throws(TrelloImportError) -> String? {
            switch self[key].value {
            case nil, .null: return nil
            case .string(let s): return s
            default: throw fail(key, "must be a string.")
            }
        }

        func bool(_ key: String) throws(TrelloImportError) -> Bool? {
            switch self[key].value {
            case nil, .null: return nil
            case .bool(let b): return b
            default: throw fail(key, "must be true or false.")
            }
        }

        func number(_ key: String) throws(TrelloImportError) -> Double? {
            switch self[key].value {
            case nil, .null: return nil
            case .integer(let i): return Double(i)
            case .double(let d): return d
            // Trello writes "top" and "bottom" for positions set that way.
            case .string("top"): return -Double.greatestFiniteMagnitude
            case .string("bottom"): return Double.greatestFiniteMagnitude
            default: throw fail(key, "must be a number.")
            }
        }

        func date(_ key: String) throws(TrelloImportError) -> Date? {
            guard let text = try optionalString(key), !text.isEmpty else { return nil }
            guard let date = ISO8601Parsing.date(text) else { throw fail(key, "must be a date like 2024-03-01T12:00:00.000Z.") }
            return date
        }

        func strings(_ key: String) throws(TrelloImportError) -> [String] {
            switch self[key].value {
            case nil, .null: return []
            case .array(let items):
                var result: [String] = []
                for (index, item) in items.enumerated() {
                    guard case .string(let s) = item else { throw fail("\(key)[\(index)]", "must be a string.") }
                    result.append(s)
                }
                return result
            default: throw fail(key, "must be a list of strings.")
            }
        }

        func array(_ key: String, optional: Bool = false, limit: Int) throws(TrelloImportError) -> [Node] {
            let at = self[key]
            switch at.value {
            case nil, .null:
                if optional { return [] }
                throw fail(key, "is missing; it must be a list.")
            case .array(let items):
                guard items.count <= limit else { throw fail(key, "has \(items.count) entries; Tack imports at most \(limit).") }
                return items.enumerated().map { Node(value: $1, path: "\(at.path)[\($0)]") }
            default:
                throw fail(key, "must be a list.")
            }
        }
    }
}
