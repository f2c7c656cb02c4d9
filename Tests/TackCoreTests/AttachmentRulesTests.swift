import Foundation
import Testing

@testable import TackCore

@Suite("Attachment names and types")
struct AttachmentRulesTests {
    // MARK: - Names

    @Test("a path keeps only its last component, whichever separator it uses")
    func pathsLoseTheirDirectories() {
        #expect(AttachmentName.sanitize("../../etc/passwd") == "passwd")
        #expect(AttachmentName.sanitize("a/b") == "b")
        #expect(AttachmentName.sanitize("/absolute/report.pdf") == "report.pdf")
        #expect(AttachmentName.sanitize("C:\\Users\\ann\\notes.txt") == "notes.txt")
        #expect(AttachmentName.sanitize("..\\..\\boot.ini") == "boot.ini")
        #expect(AttachmentName.sanitize("dir/") == "dir")
    }

    @Test("nothing usable left is no name")
    func emptyNames() {
        for raw in ["", " ", ".", "..", "...", "a/..", "../", "/", "\\", "\u{0}", "\u{7}\u{1B}", "\u{202E}", " . . "] {
            #expect(AttachmentName.sanitize(raw) == nil, "\(raw.debugDescription)")
        }
    }

    @Test("control, format and direction-changing characters are dropped")
    func invisibleCharacters() {
        #expect(AttachmentName.sanitize("in\u{0}voice\n.pdf") == "invoice.pdf")
        #expect(AttachmentName.sanitize("tab\there.txt") == "tabhere.txt")
        #expect(AttachmentName.sanitize("del\u{7F}\u{85}.txt") == "del.txt")
        // "harmless‮fdp.exe" shows as "harmlessexe.pdf" with the override; without it, the truth.
        #expect(AttachmentName.sanitize("harmless\u{202E}fdp.exe") == "harmlessfdp.exe")
        #expect(AttachmentName.sanitize("zero\u{200B}width\u{FEFF}.png") == "zerowidth.png")
        #expect(AttachmentName.sanitize("line\u{2028}break.txt") == "linebreak.txt")
    }

    @Test("characters Windows refuses become underscores; spaces and trailing dots are tidied")
    func reservedCharacters() {
        #expect(AttachmentName.sanitize("what? \"why\" <now>|*:.txt") == "what_ _why_ _now____.txt")
        #expect(AttachmentName.sanitize("  spaced   out  .txt  ") == "spaced out .txt")
        #expect(AttachmentName.sanitize("trailing dots...") == "trailing dots")
        #expect(AttachmentName.sanitize(".env") == ".env")
        #expect(AttachmentName.sanitize("no\u{A0}break.txt") == "no break.txt")
    }

    @Test("other scripts are kept, in composed form")
    func unicodeIsKept() {
        #expect(AttachmentName.sanitize("Résumé – 2025.pdf") == "Résumé – 2025.pdf")
        #expect(AttachmentName.sanitize("e\u{301}te\u{301}.txt") == "\u{E9}t\u{E9}.txt")
        #expect(AttachmentName.sanitize("報告書.docx") == "報告書.docx")
    }

    @Test("an over-long name is shortened and keeps its extension")
    func longNames() throws {
        let long = String(repeating: "a", count: 1000) + ".jpeg"
        let name = try #require(AttachmentName.sanitize(long))
        #expect(name.count == AttachmentName.maximumLength)
        #expect(name.hasSuffix(".jpeg"))
        let noExtension = try #require(AttachmentName.sanitize(String(repeating: "ß", count: 500)))
        #expect(noExtension.count == AttachmentName.maximumLength)
        let longExtension = try #require(AttachmentName.sanitize("x." + String(repeating: "e", count: 300)))
        #expect(longExtension.count == AttachmentName.maximumLength)
    }

    // MARK: - Types

    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8)
    static let webp: [UInt8] = Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WEBPVP8 ".utf8)

    @Test("raster images are recognised by their bytes, whatever their name says")
    func images() {
        #expect(AttachmentType.detect(head: Self.png, name: "a.png") == AttachmentType(contentType: "image/png", isImage: true))
        #expect(AttachmentType.detect(head: Self.png, name: "no-extension") == AttachmentType(contentType: "image/png", isImage: true))
        #expect(AttachmentType.detect(head: Self.jpeg, name: "photo.txt").contentType == "image/jpeg")
        #expect(AttachmentType.detect(head: Array("GIF89a".utf8) + [1, 0], name: "x.gif").contentType == "image/gif")
        #expect(AttachmentType.detect(head: Array("GIF87a".utf8), name: "x.gif").isImage)
        #expect(AttachmentType.detect(head: Self.webp, name: "x.webp").contentType == "image/webp")
        #expect(!AttachmentType.detect(head: Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8), name: "x.webp").isImage)
    }

    @Test("a file that only claims to be an image, HTML, SVG and scripts are plain bytes")
    func spoofsAreBinary() {
        let html = Array("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".utf8)
        #expect(AttachmentType.detect(head: html, name: "fake.png") == .binary)
        #expect(AttachmentType.detect(head: html, name: "page.html") == .binary)
        #expect(AttachmentType.detect(head: html, name: "page.htm") == .binary)
        #expect(AttachmentType.detect(head: Array("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".utf8), name: "logo.svg") == .binary)
        #expect(AttachmentType.detect(head: Array("alert(1)".utf8), name: "x.js") == .binary)
        #expect(AttachmentType.detect(head: Array("<?xml version='1.0'?><x/>".utf8), name: "x.xml") == .binary)
        #expect(AttachmentType.detect(head: [UInt8](), name: "empty.png") == .binary)
        #expect(AttachmentType.detect(head: [0x89, 0x50, 0x4E], name: "cut.png") == .binary)
    }

    @Test("documents and archives by their magic bytes; office files by extension inside a ZIP")
    func documents() {
        #expect(AttachmentType.detect(head: Array("%PDF-1.7\n".utf8), name: "a.pdf").contentType == "application/pdf")
        #expect(AttachmentType.detect(head: Array("%PDF-1.7\n".utf8), name: "a.pdf").isImage == false)
        let zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 20, 0]
        #expect(AttachmentType.detect(head: zip, name: "a.zip").contentType == "application/zip")
        #expect(AttachmentType.detect(head: zip, name: "Plan.DOCX").contentType.hasSuffix("wordprocessingml.document"))
        #expect(AttachmentType.detect(head: zip, name: "sheet.xlsx").contentType.hasSuffix("spreadsheetml.sheet"))
        #expect(AttachmentType.detect(head: [0x1F, 0x8B, 8], name: "a.tar.gz").contentType == "application/gzip")
    }

    @Test("text extensions are text only when the bytes are UTF-8 text")
    func text() {
        #expect(AttachmentType.detect(head: Array("hello, world\r\n\tindented".utf8), name: "a.txt").contentType == "text/plain; charset=utf-8")
        #expect(AttachmentType.detect(head: Array("a,b\n1,2\n".utf8), name: "data.csv").contentType == "text/csv; charset=utf-8")
        #expect(AttachmentType.detect(head: Array("{\"a\": 1}".utf8), name: "x.json").contentType == "application/json")
        #expect(AttachmentType.detect(head: Array("plain".utf8), name: "no-extension") == .binary)
        #expect(AttachmentType.detect(head: [0x61, 0x00, 0x62], name: "nul.txt") == .binary)
        #expect(AttachmentType.detect(head: [0x61, 0xFF, 0xFE], name: "latin.txt") == .binary)
        // A multi-byte character cut by the end of the sniffed head is still text.
        let cut = Array(String(repeating: "é", count: 300).utf8.prefix(AttachmentType.sniffLength - 1))
        #expect(AttachmentType.detect(head: cut, name: "accents.md").contentType == "text/plain; charset=utf-8")
    }

    @Test("a name on which NSString.pathExtension traps is read without it (found by fuzz/attachment_name)")
    func fuzzerFinding() {
        let bytes: [UInt8] = [0x72, 0x65, 0x70, 0x80, 0xAE, 0x65, 0x74, 0x6C, 0xE2, 0x00, 0x3E, 0x6E, 0x6F, 0x00, 0x2F, 0x2F, 0x8D]
        let raw = String(decoding: bytes, as: UTF8.self)
        #expect(AttachmentType.detect(head: Array("text".utf8), name: raw) == .binary)
        #expect(AttachmentName.sanitize(raw) == "\u{FFFD}")
        #expect(AttachmentName.fileExtension("archive.tar.gz") == "gz")
        #expect(AttachmentName.fileExtension(".env") == "")
        #expect(AttachmentName.fileExtension("no-dot") == "")
    }

    @Test("byte counts read as people write them")
    func byteCounts() {
        #expect(ByteCount.text(1) == "1 byte")
        #expect(ByteCount.text(812) == "812 bytes")
        #expect(ByteCount.text(26_214_400) == "25 MiB")
        #expect(ByteCount.text(1_073_741_824) == "1 GiB")
        #expect(ByteCount.text(1536) == "1.5 KiB")
    }
}
