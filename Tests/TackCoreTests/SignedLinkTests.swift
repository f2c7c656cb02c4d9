import Foundation
import Testing

@testable import TackCore

/// The links sent by email (invitations, password resets): only this server's secret makes them,
/// each is bound to its purpose, row and facts, and junk is refused before any lookup.
@Suite("Signed links")
struct SignedLinkTests {
    let secret = String(repeating: "s", count: 40)

    @Test("a link checks for its own row and facts, and for nothing else")
    func bound() {
        let link = SignedLink.make(.passwordReset, id: 42, facts: ["rita@example.com", "$2b$hash"], secret: secret)
        #expect(link.hasPrefix("r42."))
        #expect(SignedLink.id(of: link, purpose: .passwordReset) == 42)
        #expect(SignedLink.isValid(link, purpose: .passwordReset, id: 42, facts: ["rita@example.com", "$2b$hash"], secret: secret))
        // Another row, another password hash (it changed since), another address, another secret.
        #expect(!SignedLink.isValid(link, purpose: .passwordReset, id: 43, facts: ["rita@example.com", "$2b$hash"], secret: secret))
        #expect(!SignedLink.isValid(link, purpose: .passwordReset, id: 42, facts: ["rita@example.com", "$2b$other"], secret: secret))
        #expect(!SignedLink.isValid(link, purpose: .passwordReset, id: 42, facts: ["eve@example.com", "$2b$hash"], secret: secret))
        #expect(!SignedLink.isValid(link, purpose: .passwordReset, id: 42, facts: ["rita@example.com", "$2b$hash"], secret: secret + "x"))
        // The same row and facts for the other purpose is not the same link.
        #expect(SignedLink.id(of: link, purpose: .invitation) == nil)
        let invitation = SignedLink.make(.invitation, id: 42, facts: ["rita@example.com", "$2b$hash"], secret: secret)
        #expect(invitation.dropFirst() != link.dropFirst())
    }

    @Test("facts are length-prefixed: moving a boundary between two facts changes the signature")
    func boundaries() {
        let a = SignedLink.make(.invitation, id: 1, facts: ["7", "ab@example.com"], secret: secret)
        let b = SignedLink.make(.invitation, id: 1, facts: ["7a", "b@example.com"], secret: secret)
        #expect(a != b)
    }

    @Test("every changed character of a link is refused")
    func tampering() {
        let link = SignedLink.make(.invitation, id: 9, facts: ["3", "new@example.com"], secret: secret)
        for index in link.indices.dropFirst() {
            for replacement in ["A", "0", "-"] where String(link[index]) != replacement {
                var forged = link
                forged.replaceSubrange(index...index, with: replacement)
                let id = SignedLink.id(of: forged, purpose: .invitation)
                #expect(id == nil || !SignedLink.isValid(forged, purpose: .invitation, id: id!, facts: ["3", "new@example.com"], secret: secret))
            }
        }
    }

    @Test(
        "junk is refused before any lookup",
        arguments: ["", "i", "i.", "i12", "ix.abc", "i-1.abc", "r1.abc", "i99999999999999999999.abc", String(repeating: "i1.", count: 40)]
    )
    func junk(_ text: String) {
        #expect(SignedLink.id(of: text, purpose: .invitation) == nil)
    }
}
