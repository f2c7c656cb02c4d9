import Foundation

/// What a file name sent with an upload becomes before it is stored as the attachment's display
/// name. The name is never used as a path (files are stored under a random key), but it is shown
/// in pages, sent back in `Content-Disposition` and saved by browsers, so it must be one plain
/// file name: no directories, no control or direction-changing characters, no characters that
/// Windows refuses in a file name, a bounded length.
public enum AttachmentName {
    /// The longest display name, in characters; longer names keep their extension.
    public static let maximumLength = 180
    /// The longest extension kept when a long name is shortened.
    static let maximumExtensionLength = 16

    /// The safe display name of `raw`, or nil when nothing usable is left (an empty name, only
    /// dots or spaces, only control characters).
    ///
    /// `../../etc/passwd` → `passwd`, `C:\dir\report.pdf` → `report.pdf`: like a browser saving a
    /// download, only the last path component counts.
    public static func sanitize(_ raw: String) -> String? {
        // Unicode NFC first, so composed and decomposed forms of one name are stored alike.
        let normalized = raw.precomposedStringWithCanonicalMapping
        let lastComponent =
            normalized
            .split(whereSeparator: { $0 == "/" || $0 == "\\" })
            .last
            .map(String.init) ?? ""
        var cleaned = String.UnicodeScalarView()
        for scalar in lastComponent.unicodeScalars {
            if isInvisible(scalar) { continue }
            if scalar.properties.generalCategory == .lineSeparator || scalar.properties.generalCategory == .paragraphSeparator {
                continue
            }
            // Reserved by Windows, and `"` would need quoting in a header.
            if "<>:\"|?*".unicodeScalars.contains(scalar) {
                cleaned.append("_")
                continue
            }
            cleaned.append(scalar.properties.isWhitespace ? " " : scalar)
        }
        // Spaces around the name, and trailing dots (Windows drops them itself); a name of dots
        // alone (`.`, `..`) is no name.
        var name = String(cleaned).trimmingCharacters(in: .whitespaces)
        while let last = name.last, last == "." || last == " " { name.removeLast() }
        while name.contains("  ") { name = name.replacingOccurrences(of: "  ", with: " ") }
        let short = shortened(name)
        return short.isEmpty ? nil : short
    }

    /// Control characters (C0, DEL, C1), format characters (bidirectional overrides that can
    /// disguise an extension, zero-width characters), and non-characters.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .unassigned, .surrogate, .privateUse: return true
        default: return scalar.properties.isNoncharacterCodePoint
        }
    }

    /// What follows the last dot of `name` (not a leading one), or "". Not `NSString.pathExtension`,
    /// which traps on some names (fuzz/attachment_name found one ending in `//` and a replacement
    /// character: fuzz/corpus/attachment_name/regression-path-extension-trap).
    static func fileExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }

    /// `name` cut to `maximumLength` characters, keeping a short extension.
    static func shortened(_ name: String) -> String {
        guard name.count > maximumLength else { return name }
        let ext = fileExtension(name)
        if !ext.isEmpty, ext.count <= maximumExtensionLength {
            let stem = String(name.dropLast(ext.count + 1).prefix(maximumLength - ext.count - 1))
            return stem.trimmingCharacters(in: CharacterSet(charactersIn: " .")) + "." + ext
        }
        return String(name.prefix(maximumLength)).trimmingCharacters(in: CharacterSet(charactersIn: " ."))
    }
}

/// The content type Tack gives a file, decided from its first bytes and its name, never from what
/// the uploader claimed. Only formats on the allow-list keep a type of their own; everything else
/// (HTML, SVG, scripts, unknown bytes) is `application/octet-stream`, which no browser renders.
public struct AttachmentType: Sendable, Equatable {
    /// The `Content-Type` the file is served with.
    public var contentType: String
    /// A raster image browsers show safely (PNG, JPEG, GIF, WebP): shown as a thumbnail, served
    /// inline, usable as a card's cover.
    public var isImage: Bool

    /// Creates a type.
    public init(contentType: String, isImage: Bool) {
        self.contentType = contentType
        self.isImage = isImage
    }

    /// Anything not on the allow-list.
    public static let binary = AttachmentType(contentType: "application/octet-stream", isImage: false)

    /// How many first bytes `detect` looks at.
    public static let sniffLength = 512

    /// The type of a file whose first bytes (at least `sniffLength` when the file is that long)
    /// are `head` and whose display name is `name`.
    public static func detect(head: some Collection<UInt8>, name: String) -> AttachmentType {
        let bytes = Array(head.prefix(sniffLength))
        let ext = AttachmentName.fileExtension(name).lowercased()
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && Array(bytes[offset..<offset + magic.count]) == magic
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return AttachmentType(contentType: "image/png", isImage: true) }
        if starts([0xFF, 0xD8, 0xFF]) { return AttachmentType(contentType: "image/jpeg", isImage: true) }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return AttachmentType(contentType: "image/gif", isImage: true) }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) { return AttachmentType(contentType: "image/webp", isImage: true) }
        if starts(Array("%PDF-".utf8)) { return AttachmentType(contentType: "application/pdf", isImage: false) }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            return AttachmentType(contentType: zipTypes[ext] ?? "application/zip", isImage: false)
        }
        if starts([0x1F, 0x8B]) { return AttachmentType(contentType: "application/gzip", isImage: false) }
        if let textType = textTypes[ext], isText(bytes) { return AttachmentType(contentType: textType, isImage: false) }
        return .binary
    }

    /// ZIP containers with a type of their own (office documents), by extension.
    static let zipTypes: [String: String] = [
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt": "application/vnd.oasis.opendocument.text",
        "ods": "application/vnd.oasis.opendocument.spreadsheet",
        "odp": "application/vnd.oasis.opendocument.presentation",
    ]

    /// Plain-text formats, by extension; served as text only when the bytes are UTF-8 text. Never
    /// HTML, SVG or XML, which browsers would run.
    static let textTypes: [String: String] = [
        "txt": "text/plain; charset=utf-8",
        "text": "text/plain; charset=utf-8",
        "md": "text/plain; charset=utf-8",
        "markdown": "text/plain; charset=utf-8",
        "log": "text/plain; charset=utf-8",
        "csv": "text/csv; charset=utf-8",
        "tsv": "text/tab-separated-values; charset=utf-8",
        "json": "application/json",
    ]

    /// UTF-8 without NUL or other C0 controls than tab, line feed, form feed and carriage return;
    /// a multi-byte character cut at the end of `bytes` is allowed (the head is a prefix).
    static func isText(_ bytes: [UInt8]) -> Bool {
        var trimmed = bytes[...]
        // Drop an incomplete sequence at the end: up to 3 bytes after the last lead byte.
        if let lastLead = trimmed.lastIndex(where: { $0 & 0xC0 != 0x80 }), trimmed[lastLead] >= 0xC0 {
            let lead = trimmed[lastLead]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if trimmed.endIndex - lastLead < length { trimmed = trimmed[..<lastLead] }
        }
        guard String(bytes: trimmed, encoding: .utf8) != nil else { return false }
        return !trimmed.contains { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0C && $0 != 0x0D || $0 == 0x7F }
    }
}

/// Byte counts in people's words, for messages: `25 MiB`, `1 GiB`, `812 bytes`.
public enum ByteCount {
    /// `bytes` in the largest binary unit that keeps it at least 1, with at most one decimal.
    public static func text(_ bytes: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard bytes >= 1024 else { return bytes == 1 ? "1 byte" : "\(bytes) bytes" }
        var value = Double(bytes)
        var unit = ""
        for next in units where value >= 1024 {
            value /= 1024
            unit = next
        }
        let rounded = (value * 10).rounded() / 10
        let number = rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
        return "\(number) \(unit)"
    }
}
