import NIOCore

/// One complete server reply: `250-first`, `250-second`, `250 last` make one reply with three lines.
struct SMTPReply: Sendable, Equatable {
    /// The three-digit reply code.
    var code: Int
    /// The text of each line, without code and separator.
    var lines: [String]
    /// Whether more bytes followed the reply in the same read. After a STARTTLS reply that means the
    /// server (or someone in the path) injected plaintext that must not be taken as part of the TLS session.
    var followedByData = false

    /// All lines joined with a space, for error messages.
    var text: String { lines.joined(separator: " ") }

    /// 2xx.
    var isPositiveCompletion: Bool { (200..<300).contains(code) }
}

/// Frames the byte stream into replies (RFC 5321 §4.2): lines `NNN-text` continue a reply, a line
/// `NNN text` or `NNN` ends it. Bare LF is accepted as a line end, as most clients do.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    /// RFC 5321 allows 512 octets per reply line; real servers stay far below this generous bound.
    static let maximumLineLength = 4096
    /// Bounds memory for a reply that never ends.
    static let maximumLines = 512

    private var code: Int?
    private var lines: [String] = []

    /// Consumes one line; emits a reply when the line ends one.
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let newline = buffer.withUnsafeReadableBytes { $0.firstIndex(of: UInt8(ascii: "\n")) }
        guard let newline else {
            if buffer.readableBytes > Self.maximumLineLength {
                throw SMTPError(code: .protocolViolation, detail: "reply line longer than \(Self.maximumLineLength) bytes")
            }
            return .needMoreData
        }
        guard newline <= Self.maximumLineLength else {
            throw SMTPError(code: .protocolViolation, detail: "reply line longer than \(Self.maximumLineLength) bytes")
        }
        var line = buffer.readBytes(length: newline + 1)!
        line.removeLast()
        if line.last == UInt8(ascii: "\r") { line.removeLast() }

        let digits = line.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let lineCode = Int(String(decoding: digits, as: UTF8.self)), (200..<600).contains(lineCode)
        else {
            throw SMTPError(code: .protocolViolation, detail: "malformed reply line \(Self.printable(line))")
        }
        let separator = line.count > 3 ? line[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw SMTPError(code: .protocolViolation, detail: "malformed reply line \(Self.printable(line))")
        }
        if let code, code != lineCode {
            throw SMTPError(code: .protocolViolation, detail: "reply code changed from \(code) to \(lineCode) within one reply")
        }
        code = lineCode
        lines.append(String(decoding: line.dropFirst(4), as: UTF8.self))
        guard lines.count <= Self.maximumLines else {
            throw SMTPError(code: .protocolViolation, detail: "reply longer than \(Self.maximumLines) lines")
        }

        if separator == UInt8(ascii: " ") {
            let reply = SMTPReply(code: lineCode, lines: lines, followedByData: buffer.readableBytes > 0)
            code = nil
            lines = []
            context.fireChannelRead(Self.wrapInboundOut(reply))
        }
        return .continue
    }

    /// Emits what complete replies remain when the connection closes.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A partial line at EOF is dropped: the reply handler reports the closed connection.
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }

    private static func printable(_ line: [UInt8]) -> String {
        String(decoding: line.prefix(80), as: UTF8.self).debugDescription
    }
}
