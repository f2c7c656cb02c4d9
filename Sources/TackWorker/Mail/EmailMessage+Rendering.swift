import Foundation
import TackCore

extension EmailMessage {
    /// The message in RFC 5322 form, as sent after DATA before dot-stuffing.
    ///
    /// CRLF line endings; Date, From, To, Subject, Message-ID and MIME headers; a UTF-8 body in
    /// quoted-printable, so every byte is 7-bit and every line at most 76 octets; header lines folded
    /// near 78 octets and never beyond 998. A non-ASCII subject or display name becomes RFC 2047
    /// encoded-words. Line breaks or other control characters in a header field, or an address that
    /// is not a plain `local@domain`, throw `SMTPError` with code `invalidMessage`, so no caller-supplied
    /// text can add a header or a recipient.
    ///
    /// - Parameters:
    ///   - helloName: the right-hand side of a generated Message-ID.
    ///   - date: the Date header's value.
    public func rendered(helloName: String, date: Date = Date()) throws(SMTPError) -> String {
        try render(helloName: helloName, date: date).text
    }

    /// The rendered message and its Message-ID (without angle brackets), for logging.
    func render(helloName: String, date: Date) throws(SMTPError) -> (text: String, messageID: String) {
        guard !to.isEmpty else {
            throw SMTPError(code: .invalidMessage, detail: "the message has no recipient")
        }
        let fromAddress = try MailSyntax.checkedAddress(from.address, field: "From")
        var recipients: [String] = []
        for address in to {
            recipients.append(try MailSyntax.checkedAddress(address, field: "To"))
        }
        let subject = try MailSyntax.checkedText(subject, field: "Subject")
        let name = try from.name.map { name throws(SMTPError) in try MailSyntax.checkedText(name, field: "From name") }
        let messageID: String
        if let given = self.messageID {
            messageID = try MailSyntax.checkedMessageID(given)
        } else {
            messageID = MailSyntax.generatedMessageID(domain: helloName)
        }

        var fromWords: [String] = []
        if let name, !name.isEmpty {
            fromWords = MailSyntax.phraseWords(name)
        }
        fromWords.append("<\(fromAddress)>")
        let recipientWords = recipients.enumerated().map { $0.offset == recipients.count - 1 ? $0.element : $0.element + "," }

        var text = ""
        text += MailSyntax.headerLine("Date", words: [MailSyntax.formatDate(date)])
        text += MailSyntax.headerLine("From", words: fromWords)
        text += MailSyntax.headerLine("To", words: recipientWords)
        text += MailSyntax.headerLine("Subject", words: MailSyntax.unstructuredWords(subject))
        text += MailSyntax.headerLine("Message-ID", words: ["<\(messageID)>"])
        text += "MIME-Version: 1.0\r\n"
        text += "Content-Type: text/plain; charset=utf-8\r\n"
        text += "Content-Transfer-Encoding: quoted-printable\r\n"
        text += "\r\n"
        text += MailSyntax.quotedPrintable(self.text)
        return (text, messageID)
    }
}

/// The pieces of RFC 5321/5322/2045/2047 syntax the renderer and the client need.
enum MailSyntax {
    /// Longest address accepted (RFC 5321's path limit less the angle brackets).
    static let maximumAddressLength = 254
    /// Header lines are folded once longer than this (RFC 5322 §2.1.1 "SHOULD").
    static let foldingWidth = 78

    /// Characters allowed in an address: dot-atom text, `@`, and brackets for address literals.
    /// No quoted local parts, no spaces, no `<>,;:"\` — nothing that can end the field or the command.
    private static let addressBytes: Set<UInt8> = Set(
        Array(UInt8(ascii: "a")...UInt8(ascii: "z")) + Array(UInt8(ascii: "A")...UInt8(ascii: "Z"))
            + Array(UInt8(ascii: "0")...UInt8(ascii: "9")) + Array("!#$%&'*+-/=?^_`{|}~.@[]".utf8)
    )

    /// The address itself if it is a plain ASCII `local@domain`, else `invalidMessage`.
    static func checkedAddress(_ address: String, field: String) throws(SMTPError) -> String {
        let bytes = Array(address.utf8)
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")), at > 0, at < bytes.count - 1,
            bytes.count <= maximumAddressLength, bytes.allSatisfy(addressBytes.contains)
        else {
            throw SMTPError(code: .invalidMessage, detail: "\(field) address \(address.debugDescription) is not a plain local@domain address")
        }
        return address
    }

    /// The text if it has no line break or other control character (tab excepted).
    static func checkedText(_ text: String, field: String) throws(SMTPError) -> String {
        let forbidden = text.unicodeScalars.contains { scalar in
            (scalar.value < 0x20 && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}"
        }
        guard !forbidden else {
            throw SMTPError(code: .invalidMessage, detail: "\(field) contains a line break or control character")
        }
        return text
    }

    /// A caller-supplied Message-ID without angle brackets, if it is printable ASCII without spaces.
    static func checkedMessageID(_ id: String) throws(SMTPError) -> String {
        var id = Substring(id)
        if id.hasPrefix("<") && id.hasSuffix(">") && id.count >= 2 {
            id = id.dropFirst().dropLast()
        }
        guard !id.isEmpty, id.utf8.count <= 900,
            id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") })
        else {
            throw SMTPError(code: .invalidMessage, detail: "Message-ID must be printable ASCII without spaces or angle brackets")
        }
        return String(id)
    }

    /// `random@domain`, 128 random bits in hex.
    static func generatedMessageID(domain: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        return "\(random)@\(domain)"
    }

    /// RFC 5322 date-time in UTC, e.g. `Tue, 15 Jul 2025 08:05:09 +0000`.
    static func formatDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = CivilCalendar.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        let weekday = CivilCalendar.weekday(ofDays: days)

        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[weekday]), \(day) \(months[month - 1]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) +0000"
    }

    /// `Name: word word…` with CRLF, folded before a space where a line would pass `foldingWidth`.
    static func headerLine(_ name: String, words: [String]) -> String {
        var text = name + ":"
        var lineLength = text.utf8.count
        var lineHasWord = false  // never fold right after the field name, nor before an empty word
        for word in words {
            if lineLength + 1 + word.utf8.count > foldingWidth && lineHasWord && !word.isEmpty {
                text += "\r\n"
                lineLength = 0
            }
            text += " " + word
            lineLength += 1 + word.utf8.count
            lineHasWord = lineHasWord || !word.isEmpty
        }
        return text + "\r\n"
    }

    /// Words of an unstructured field (Subject): the text split at spaces when it can go as it is,
    /// else encoded-words.
    static func unstructuredWords(_ text: String) -> [String] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if needsEncoding(text) || words.contains(where: { $0.utf8.count > 900 }) {
            return encodedWords(text)
        }
        return words
    }

    /// Words of a display name: a quoted-string when short ASCII, else encoded-words (which fold).
    static func phraseWords(_ text: String) -> [String] {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        if needsEncoding(text) || escaped.utf8.count > foldingWidth {
            return encodedWords(text)
        }
        return ["\"\(escaped)\""]
    }

    /// Non-ASCII, or ASCII that a reader would take for an encoded-word.
    private static func needsEncoding(_ text: String) -> Bool {
        text.utf8.contains { $0 >= 0x80 } || text.contains("=?")
    }

    /// RFC 2047 B-encoded words of at most 75 characters, split between Unicode scalars.
    static func encodedWords(_ text: String) -> [String] {
        // "=?UTF-8?B?" + 60 base64 characters (45 bytes) + "?=" = 72 ≤ 75.
        let maximumChunk = 45
        var words: [String] = []
        var chunk: [UInt8] = []
        func flush() {
            words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
            chunk.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > maximumChunk {
                flush()
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty {
            flush()
        }
        return words
    }

    /// The body as UTF-8 quoted-printable (RFC 2045 §6.7) with CRLF line breaks and a final CRLF.
    static func quotedPrintable(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1 && lines.last?.isEmpty == true {
            lines.removeLast()
        }
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        for line in lines {
            let bytes = Array(line.utf8)
            var lineLength = 0
            for (index, byte) in bytes.enumerated() {
                var token: [UInt8]
                let isLast = index == bytes.count - 1
                if (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) && !isLast {
                    token = [byte]
                } else if byte < 0x21 || byte > 0x7E || byte == UInt8(ascii: "=") {
                    token = [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                } else {
                    token = [byte]
                }
                // 75 leaves room for the "=" of a soft line break: lines never pass 76 octets.
                if lineLength + token.count > 75 {
                    output += Array("=\r\n".utf8)
                    lineLength = 0
                }
                output += token
                lineLength += token.count
            }
            output += Array("\r\n".utf8)
        }
        return String(decoding: output, as: UTF8.self)
    }
}
