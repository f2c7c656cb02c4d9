import Foundation
import PostgresNIO

/// An invitation to a board for someone who may not have an account yet.
public struct Invitation: Codable, Sendable, Equatable {
    /// Id.
    public var id: Int64
    /// The board.
    public var boardID: Int64
    /// The address invited (lower case).
    public var email: String
    /// The role the invitee gets on accepting.
    public var role: BoardRole
    /// Who invited, when the account still exists.
    public var invitedBy: Int64?
    /// When it was made.
    public var createdAt: Date
    /// When the link stops working.
    public var expiresAt: Date
    /// When the email went out; nil while queued, or when this server sends no email.
    public var emailedAt: Date? = nil
}

/// What an invitation link shows before it is accepted.
public struct InvitationPreview: Codable, Sendable, Equatable {
    /// The board.
    public var boardID: Int64
    /// The board's name.
    public var boardName: String
    /// The address invited.
    public var email: String
    /// The role offered.
    public var role: BoardRole
    /// Who invited, by name.
    public var invitedBy: String?
    /// When the link stops working.
    public var expiresAt: Date
    /// Whether an account has the invited address (the page offers to log in instead of signing up).
    public var accountExists: Bool
}

extension BoardStore {
    /// How long an invitation link works.
    public static let invitationLifetime: TimeInterval = 7 * 86_400

    /// The facts an invitation link is bound to.
    public static func invitationFacts(boardID: Int64, email: String) -> [String] {
        [String(boardID), email]
    }

    /// Invites `rawEmail` to the board as `role` (admins; ownership is given after joining, by an
    /// owner). A pending invitation of the same address is replaced. Returns the invitation and its
    /// link (``SignedLink``, purpose `i`); the worker emails the same link when mail is configured.
    ///
    /// - Throws: `BoardError` 400 naming `email` or `role`, 409 `account_exists` when an account has
    ///   the address (add the member directly), 403/404 for the caller's role.
    public func invite(boardID: Int64, actorID: Int64, email rawEmail: String, role: BoardRole, secret: String) async throws -> (Invitation, String) {
        _ = try await requireRole(boardID: boardID, userID: actorID, minimum: .admin)
        let email: String
        do { email = try AccountRules.normalizedEmail(rawEmail) } catch let error as AccountError {
            throw BoardError(.invalid(field: "email", message: error.message))
        }
        guard role != .owner else {
            throw BoardError(
                .invalid(field: "role", message: "Invite as admin, member or viewer; an owner can make them owner once they have joined.")
            )
        }
        let logger = self.logger
        let lifetime = Self.invitationLifetime
        let invitation = try await transaction { tx -> Invitation in
            let existing = try await tx.query("SELECT 1 FROM users WHERE email = \(email)", logger: logger)
            for try await _ in existing.decode(Int.self) {
                throw BoardError(.conflict(code: "account_exists", message: "\(email) already has an account: add them as a member instead."))
            }
            try await tx.query(
                """
                UPDATE invitations SET revoked_at = now()
                WHERE board_id = \(boardID) AND email = \(email) AND accepted_at IS NULL AND revoked_at IS NULL
                """,
                logger: logger
            )
            let rows = try await tx.query(
                """
                INSERT INTO invitations (board_id, email, role, invited_by, expires_at)
                VALUES (\(boardID), \(email), \(role.rawValue), \(actorID), now() + make_interval(secs => \(lifetime)))
                RETURNING id, created_at, expires_at
                """,
                logger: logger
            )
            for try await (id, created, expires) in rows.decode((Int64, Date, Date).self) {
                return Invitation(id: id, boardID: boardID, email: email, role: role, invitedBy: actorID, createdAt: created, expiresAt: expires)
            }
            throw BoardError(.notFound("board"))
        }
        let link = SignedLink.make(
            .invitation,
            id: invitation.id,
            facts: Self.invitationFacts(boardID: boardID, email: email),
            secret: secret
        )
        return (invitation, link)
    }

    /// Pending invitations of a board (admins).
    public func invitations(boardID: Int64, actorID: Int64) async throws -> [Invitation] {
        _ = try await requireRole(boardID: boardID, userID: actorID, minimum: .admin)
        let rows = try await postgres.boundedQuery(
            """
            SELECT id, email, role, invited_by, created_at, expires_at, emailed_at FROM invitations
            WHERE board_id = \(boardID) AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            ORDER BY id
            """,
            logger: logger
        )
        var result: [Invitation] = []
        for try await (id, email, role, by, created, expires, emailed) in rows.decode((Int64, String, String, Int64?, Date, Date, Date?).self) {
            result.append(
                Invitation(
                    id: id,
                    boardID: boardID,
                    email: email,
                    role: BoardRole(rawValue: role) ?? .viewer,
                    invitedBy: by,
                    createdAt: created,
                    expiresAt: expires,
                    emailedAt: emailed
                )
            )
        }
        return result
    }

    /// Withdraws a pending invitation (admins); its link stops working.
    public func revokeInvitation(boardID: Int64, actorID: Int64, invitationID: Int64) async throws {
        _ = try await requireRole(boardID: boardID, userID: actorID, minimum: .admin)
        let rows = try await postgres.boundedQuery(
            """
            UPDATE invitations SET revoked_at = now()
            WHERE id = \(invitationID) AND board_id = \(boardID) AND accepted_at IS NULL AND revoked_at IS NULL
            RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(Int64.self) { return }
        throw BoardError(.notFound("invitation"))
    }

    /// What a link invites to.
    ///
    /// - Throws: `AccountError` `.linkInvalid` (field `token`), `.linkExpired`, `.linkUsed`.
    public func invitationPreview(link: String, secret: String) async throws -> InvitationPreview {
        guard let id = SignedLink.id(of: link, purpose: .invitation) else { throw Self.invalidInvitation }
        let rows = try await postgres.boundedQuery(
            """
            SELECT i.board_id, b.name, i.email, i.role, u.name, i.expires_at,
                   i.accepted_at IS NOT NULL OR i.revoked_at IS NOT NULL, i.expires_at < now(),
                   EXISTS (SELECT 1 FROM users a WHERE a.email = i.email)
            FROM invitations i JOIN boards b ON b.id = i.board_id LEFT JOIN users u ON u.id = i.invited_by
            WHERE i.id = \(id) AND b.archived_at IS NULL
            """,
            logger: logger
        )
        for try await (board, boardName, email, role, inviter, expires, used, expired, exists)
            in rows.decode((Int64, String, String, String, String?, Date, Bool, Bool, Bool).self)
        {
            try Self.checkInvitation(link, id: id, boardID: board, email: email, used: used, expired: expired, secret: secret)
            return InvitationPreview(
                boardID: board,
                boardName: boardName,
                email: email,
                role: BoardRole(rawValue: role) ?? .viewer,
                invitedBy: inviter,
                expiresAt: expires,
                accountExists: exists
            )
        }
        throw Self.invalidInvitation
    }

    /// Accepts an invitation as `userID`: they join the board with the invited role (a member
    /// already keeps a higher role), the link is used up, and `member.added` (or `member.updated`)
    /// reaches everyone on the board. Returns the board id.
    ///
    /// - Throws: `AccountError` `.linkInvalid`, `.linkExpired`, `.linkUsed`.
    /// `preview` is the link's preview when the caller has just read it.
    public func acceptInvitation(link: String, userID: Int64, secret: String, preview known: InvitationPreview? = nil) async throws -> Int64 {
        guard let id = SignedLink.id(of: link, purpose: .invitation) else { throw Self.invalidInvitation }
        let preview: InvitationPreview
        if let known { preview = known } else { preview = try await invitationPreview(link: link, secret: secret) }
        let logger = self.logger
        let (boardID, _) = try await commit(.existing(preview.boardID), actorIDs: [userID]) { write -> (Int64, [BoardEventDraft]) in
            let tx = write.tx
            // Under the board's lock: a second acceptance of the same link waits here and finds it used.
            let rows = try await tx.query(
                """
                UPDATE invitations SET accepted_at = now(), accepted_by = \(userID)
                WHERE id = \(id) AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
                RETURNING role
                """,
                logger: logger
            )
            var invited: BoardRole?
            for try await role in rows.decode(String.self) { invited = BoardRole(rawValue: role) }
            guard let invited else { throw Self.usedInvitation }
            let current = write.board.roles[0]
            if let current, current >= invited { return (write.boardID, []) }
            try await tx.query(
                """
                INSERT INTO board_members (board_id, user_id, role) VALUES (\(write.boardID), \(userID), \(invited.rawValue))
                ON CONFLICT (board_id, user_id) DO UPDATE SET role = EXCLUDED.role
                """,
                logger: logger
            )
            let users = try await tx.query("SELECT name, email FROM users WHERE id = \(userID)", logger: logger)
            var member: BoardMember?
            for try await (name, email) in users.decode((String, String).self) {
                member = BoardMember(userID: userID, name: name, email: email, role: invited)
            }
            guard let member else { throw AccountError(.userNotFound, "The account no longer exists.") }
            var draft = BoardEventDraft(kind: current == nil ? "member.added" : "member.updated", payload: member)
            draft.actorID = userID
            return (write.boardID, [draft])
        }
        return boardID
    }

    private static func checkInvitation(
        _ link: String,
        id: Int64,
        boardID: Int64,
        email: String,
        used: Bool,
        expired: Bool,
        secret: String
    ) throws {
        let facts = invitationFacts(boardID: boardID, email: email)
        guard SignedLink.isValid(link, purpose: .invitation, id: id, facts: facts, secret: secret) else { throw invalidInvitation }
        if used { throw usedInvitation }
        if expired { throw AccountError(.linkExpired, field: "token", "This invitation has expired; ask for a new one.") }
    }

    static let invalidInvitation = AccountError(.linkInvalid, field: "token", "This invitation link is not valid; check that it was copied whole.")
    static let usedInvitation = AccountError(.linkUsed, field: "token", "This invitation was already accepted or was withdrawn.")
}
