// push-bench: many WebSocket clients of Tack's push role in one process, on one event loop.
//
//   push-bench --urls 127.0.0.1:4000[,127.0.0.1:4001] --source 127.0.0.2 --count 3000 \
//              --cookie TOKEN --origin http://localhost:5000 --board 7 [--after 12] [--rate 2000]
//
// Each client connects from --source, authenticates with the session cookie and Origin,
// subscribes to --board (with --after, or from now), and on any close reconnects to the next URL
// of --urls and resubscribes after the last version it received. It counts per client what a
// user relies on: versions that were skipped (gaps) or received twice (duplicates). An event whose
// text holds `@@<microseconds since 1970>@@` adds a publish-to-receive latency sample.
//
// Every second it prints one JSON line of counters. On standard input: `dump FILE` writes the
// latency samples (microseconds, one per line) and clears them; `quit` exits.
import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket

struct Options {
    var urls: [(String, Int)] = []
    var source = "127.0.0.1"
    var count = 1
    var cookie = ""
    var origin = ""
    var board: Int64 = 0
    var after: Int64?
    var rate = 2000

    init(_ arguments: [String]) {
        var i = 1
        func value() -> String {
            i += 1
            guard i < arguments.count else { fatalError("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--urls":
                urls = value().split(separator: ",").map { part in
                    let pieces = part.split(separator: ":")
                    return (String(pieces[0]), Int(pieces[1])!)
                }
            case "--source": source = value()
            case "--count": count = Int(value())!
            case "--cookie": cookie = value()
            case "--origin": origin = value()
            case "--board": board = Int64(value())!
            case "--after": after = Int64(value())!
            case "--rate": rate = Int(value())!
            default: fatalError("unknown option \(arguments[i])")
            }
            i += 1
        }
    }
}

func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Everything below runs on the one event loop: no locks.
final class Counters {
    var connected = 0
    var everSubscribed = 0
    var events = 0
    var gaps = 0
    var duplicates = 0
    var reconnects = 0
    var resyncs = 0
    var refused = 0
    var closes: [String: Int] = [:]
    var latencies: [Int32] = []
}

let options = Options(CommandLine.arguments)
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let counters = Counters()
var clients: [Client] = []

final class Client {
    let index: Int
    var urlIndex = 0
    var last: Int64?
    var subscribedOnce = false
    var channel: (any Channel)?

    init(index: Int) {
        self.index = index
        last = options.after
    }

    func connect(delay: TimeAmount = .zero) {
        loop.scheduleTask(in: delay) {
            let (host, port) = options.urls[self.urlIndex % options.urls.count]
            ClientBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.pipeline.addHandler(HandshakeHandler(client: self, host: host, port: port))
                }
                .bind(to: try! SocketAddress(ipAddress: options.source, port: 0))
                .connect(host: host, port: port)
                .whenComplete { result in
                    switch result {
                    case .success(let channel): self.channel = channel
                    case .failure: self.retry()
                    }
                }
        }
    }

    /// After a refused or lost connection: the next URL, after a jittered pause.
    func retry() {
        channel = nil
        counters.reconnects += 1
        urlIndex += 1
        connect(delay: .milliseconds(Int64.random(in: 50...1000)))
    }

    var subscribeMessage: String {
        if let last { return #"{"type":"subscribe","board":\#(options.board),"after":\#(last)}"# }
        return #"{"type":"subscribe","board":\#(options.board)}"#
    }

    func received(_ text: ByteBuffer) {
        let bytes = text.readableBytesView
        guard let type = field(bytes, "\"type\":\"") else { return }
        if type.starts(with: "event".utf8) {
            guard let version = number(bytes, "\"version\":") else { return }
            counters.events += 1
            if let last {
                if version <= last { counters.duplicates += 1; return }
                if version > last + 1 { counters.gaps += Int(version - last - 1) }
            }
            last = version
            if let mark = number(bytes, "@@") {
                counters.latencies.append(Int32(clamping: nowMicros() - mark))
            }
        } else if type.starts(with: "subscribed".utf8) {
            if !subscribedOnce {
                subscribedOnce = true
                counters.everSubscribed += 1
            }
            if last == nil, let version = number(bytes, "\"version\":") { last = version }
        } else if type.starts(with: "resync".utf8) {
            counters.resyncs += 1
            if let version = number(bytes, "\"version\":") { last = max(last ?? 0, version) }
        }
    }
}

func find(_ bytes: ByteBufferView, _ marker: String) -> ByteBufferView.Index? {
    let pattern = Array(marker.utf8)
    var i = bytes.startIndex
    while i + pattern.count <= bytes.endIndex {
        if bytes[i] == pattern[0] && bytes[i..<(i + pattern.count)].elementsEqual(pattern) { return i + pattern.count }
        i += 1
    }
    return nil
}

func field(_ bytes: ByteBufferView, _ marker: String) -> ByteBufferView.SubSequence? {
    guard let start = find(bytes, marker) else { return nil }
    return bytes[start...]
}

func number(_ bytes: ByteBufferView, _ marker: String) -> Int64? {
    guard var i = find(bytes, marker) else { return nil }
    var value: Int64 = 0
    var digits = 0
    while i < bytes.endIndex, bytes[i] >= 48, bytes[i] <= 57 {
        value = value * 10 + Int64(bytes[i] - 48)
        digits += 1
        i += 1
    }
    return digits > 0 ? value : nil
}

/// Writes the upgrade request, reads the answer, then hands the channel to `SocketHandler`.
final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let client: Client
    let host: String
    let port: Int
    var answer = ByteBuffer()
    var done = false

    init(client: Client, host: String, port: Int) {
        self.client = client
        self.host = host
        self.port = port
    }

    func channelActive(context: ChannelHandlerContext) {
        var request = context.channel.allocator.buffer(capacity: 512)
        request.writeString("GET /push/ws HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
        request.writeString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
        request.writeString("Cookie: tack_session=\(options.cookie)\r\nOrigin: \(options.origin)\r\n\r\n")
        context.writeAndFlush(NIOAny(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        answer.writeBuffer(&chunk)
        let view = answer.readableBytesView
        guard let end = find(view, "\r\n\r\n") else { return }
        guard view.starts(with: "HTTP/1.1 101".utf8) else {
            counters.refused += 1
            context.close(promise: nil)
            return
        }
        done = true
        let rest = answer.getSlice(at: end, length: answer.writerIndex - end)
        let pipeline = context.pipeline.syncOperations
        try! pipeline.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)), position: .after(self))
        try! pipeline.addHandler(WebSocketFrameEncoder(), position: .last)
        try! pipeline.addHandler(SocketHandler(client: client), position: .last)
        if let rest, rest.readableBytes > 0 { context.fireChannelRead(NIOAny(rest)) }
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { client.retry() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A connected client: subscribes, reads events, answers pings, reconnects when closed.
final class SocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    let client: Client
    var closeCode = "1006"

    init(client: Client) {
        self.client = client
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counters.connected += 1
        send(context, .text, ByteBuffer(string: client.subscribeMessage))
    }

    func send(_ context: ChannelHandlerContext, _ opcode: WebSocketOpcode, _ data: ByteBuffer) {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text: client.received(frame.data)
        case .ping: send(context, .pong, frame.data)
        case .connectionClose:
            var data = frame.data
            closeCode = data.readInteger(as: UInt16.self).map(String.init) ?? "1005"
            context.close(promise: nil)
        default: break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        counters.connected -= 1
        counters.closes[closeCode, default: 0] += 1
        client.retry()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

// Connect at --rate per second.
loop.execute {
    clients = (0..<options.count).map { Client(index: $0) }
    for (i, client) in clients.enumerated() {
        client.connect(delay: .microseconds(Int64(i) * 1_000_000 / Int64(max(1, options.rate))))
    }
    _ = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
        let lasts = clients.compactMap(\.last)
        let report: [String: Any] = [
            "connected": counters.connected, "subscribed": counters.everSubscribed, "events": counters.events,
            "gaps": counters.gaps, "duplicates": counters.duplicates, "reconnects": counters.reconnects,
            "resyncs": counters.resyncs, "refused": counters.refused, "closes": counters.closes,
            "min_last": lasts.count == clients.count ? (lasts.min() ?? 0) : -1, "max_last": lasts.max() ?? -1,
            "samples": counters.latencies.count,
        ]
        let json = try! JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        FileHandle.standardOutput.write(json + Data("\n".utf8))
    }
}

while let line = readLine() {
    let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
    if parts.first == "quit" { break }
    if parts.first == "dump", parts.count == 2 {
        let samples = try! loop.submit { () -> [Int32] in
            defer { counters.latencies = [] }
            return counters.latencies
        }.wait()
        try! samples.map(String.init).joined(separator: "\n").write(toFile: parts[1], atomically: true, encoding: .utf8)
    }
}
exit(0)
