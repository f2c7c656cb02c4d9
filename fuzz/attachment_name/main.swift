// libFuzzer target: AttachmentName and AttachmentType, which read the name and the first bytes of
// every uploaded file.
//
// The input is a file name and file bytes separated by a byte 0xFF (the name decoded as UTF-8,
// invalid sequences replaced). Properties: a sanitised name is one plain file name (no `/` or `\`,
// no control, format or line-separator character, no `"<>:|?*`, no space at either end, no
// trailing dot, not only dots), at most `maximumLength` characters, and sanitising it again changes
// nothing; the decided type is on the allow-list, never HTML, SVG or XML, and `isImage` only for
// the four raster types.

import Foundation

let allowedTypes = Set([
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip", "application/gzip",
    "application/json", "application/octet-stream",
]).union(AttachmentType.zipTypes.values).union(AttachmentType.textTypes.values)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAttachmentName(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        let parts = bytes.split(separator: 0xFF, maxSplits: 1, omittingEmptySubsequences: false)
        let raw = String(decoding: parts.first ?? [], as: UTF8.self)
        let head = parts.count > 1 ? Array(parts[1]) : []
        if let name = AttachmentName.sanitize(raw) {
            fuzzExpect(!name.isEmpty && name.count <= AttachmentName.maximumLength, "sanitize(\(fuzzShow(raw))) = \(fuzzShow(name)): length")
            fuzzExpect(!name.contains("/") && !name.contains("\\"), "sanitize(\(fuzzShow(raw))) = \(fuzzShow(name)) has a separator")
            fuzzExpect(
                !name.unicodeScalars.contains { AttachmentName.isInvisible($0) || "<>:\"|?*\n\r\t".unicodeScalars.contains($0) },
                "sanitize(\(fuzzShow(raw))) = \(fuzzShow(name)) keeps an invisible or reserved character"
            )
            fuzzExpect(name.first != " " && name.last != " " && name.last != ".", "sanitize(\(fuzzShow(raw))) = \(fuzzShow(name)): ends")
            fuzzExpect(!name.allSatisfy { $0 == "." }, "sanitize(\(fuzzShow(raw))) = \(fuzzShow(name)) is only dots")
            fuzzExpect(AttachmentName.sanitize(name) == name, "sanitize is not stable on \(fuzzShow(name)): \(fuzzShow(AttachmentName.sanitize(name)))")
        }
        let type = AttachmentType.detect(head: head, name: raw)
        fuzzExpect(allowedTypes.contains(type.contentType), "detect gave \(type.contentType) for \(fuzzShow(raw))")
        fuzzExpect(!type.isImage || type.contentType.hasPrefix("image/"), "\(type.contentType) is not an image type")
        fuzzExpect(type.isImage || !type.contentType.hasPrefix("image/"), "\(type.contentType) is an image type not marked as one")
    }
}
