/// A plain-text notification email.
///
/// Nothing is checked when it is created; `rendered(helloName:date:)` (called by `SMTPClient.send`
/// before it connects) throws `SMTPError` with code `invalidMessage` for anything that could inject
/// a header or break the SMTP envelope.
public struct EmailMessage: Sendable {
    /// The visible sender.
    public var from: EmailAddress
    /// Recipient addresses (`local@domain`), each given to RCPT TO and listed in the To header.
    public var to: [String]
    /// The subject; any Unicode text without line breaks (non-ASCII is sent as RFC 2047 encoded-words).
    public var subject: String
    /// The body text; line breaks may be LF, CRLF or CR.
    public var text: String
    /// Message-ID without or with angle brackets; generated when nil. A job that retries a send
    /// should fix it, so that a message the relay accepted twice is recognisably the same.
    public var messageID: String?

    /// Creates a message.
    public init(from: EmailAddress, to: [String], subject: String, text: String, messageID: String? = nil) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.messageID = messageID
    }
}
