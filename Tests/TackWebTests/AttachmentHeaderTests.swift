import Foundation
import HTTPTypes
import Testing

@testable import TackCore
@testable import TackWeb

@Suite("Attachment download headers")
struct AttachmentHeaderTests {
    func attachment(name: String, type: String) -> TackCore.Attachment {
        TackCore.Attachment(
            id: 7,
            boardID: 1,
            cardID: 2,
            name: name,
            contentType: type,
            size: 3,
            sha256: String(repeating: "ab", count: 32),
            uploadedBy: nil,
            createdAt: Date(),
            version: 4
        )
    }

    @Test("the name goes in filename* percent-encoded, with an ASCII fallback that cannot break the header")
    func contentDisposition() {
        #expect(
            AttachmentController.contentDisposition("Résumé 2025.pdf", inline: false)
                == "attachment; filename=\"R_sum_ 2025.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202025.pdf"
        )
        #expect(
            AttachmentController.contentDisposition("a;b=c,d'e.txt", inline: false)
                == "attachment; filename=\"a;b=c,d'e.txt\"; filename*=UTF-8''a%3Bb%3Dc%2Cd%27e.txt"
        )
        #expect(
            AttachmentController.contentDisposition("報告.png", inline: true) == "inline; filename=\"__.png\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.png"
        )
    }

    @Test("only raster images are inline; everything is nosniff, sandboxed and private")
    func headers() {
        let html = AttachmentController.headers(for: attachment(name: "page.html", type: "application/octet-stream"))
        #expect(html[.contentType] == "application/octet-stream")
        #expect(html[.contentDisposition]?.hasPrefix("attachment;") == true)
        #expect(html[.xContentTypeOptions] == "nosniff")
        #expect(html[.contentSecurityPolicy]?.contains("sandbox") == true)
        #expect(html[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
        #expect(html[.cacheControl] == "private, no-cache")
        let image = AttachmentController.headers(for: attachment(name: "cat.png", type: "image/png"))
        #expect(image[.contentDisposition]?.hasPrefix("inline;") == true)
        #expect(image[.eTag] == "\"" + String(repeating: "ab", count: 32) + "\"")
    }
}
