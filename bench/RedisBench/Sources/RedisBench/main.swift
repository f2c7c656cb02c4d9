// redis-bench: GET round trips per second through TackRedis, for bench/redis.
//
//   redis-bench --host 127.0.0.1 --port 6390 --seconds 5 --concurrency 64 [--pool-size 4] [--key k]
//
// Prints two machine-readable lines:
//   sequential_ops_per_sec=<n>     one caller awaiting each GET before sending the next
//   concurrent_ops_per_sec=<n>     <concurrency> callers doing the same in parallel
import Logging
import TackRedis

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard error, keeping stdout to the figures bench/redis parses.
/// (write(2) rather than `stderr`, a C global that strict concurrency rejects.)
func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

struct Options {
    var host = "127.0.0.1"
    var port = 6379
    var seconds = 5.0
    var concurrency = 64
    var poolSize = 4
    var key = "key:__rand_int__"
    var mode = "both"
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let flag = arguments.next() {
        guard let value = arguments.next() else {
            printError("missing value for \(flag)")
            exit(2)
        }
        switch flag {
        case "--host": options.host = value
        case "--port": options.port = Int(value) ?? options.port
        case "--seconds": options.seconds = Double(value) ?? options.seconds
        case "--concurrency": options.concurrency = Int(value) ?? options.concurrency
        case "--pool-size": options.poolSize = Int(value) ?? options.poolSize
        case "--key": options.key = value
        case "--mode": options.mode = value
        default:
            printError("unknown option \(flag)\nusage: redis-bench --host H --port P --seconds S --concurrency N [--pool-size N] [--key K] [--mode both|sequential|concurrent]")
            exit(2)
        }
    }
    return options
}

/// Runs `callers` loops of GET for `seconds`; returns operations per second.
func measure(client: RedisClient, key: String, callers: Int, seconds: Double) async throws -> Double {
    let clock = ContinuousClock()
    let duration = Duration.milliseconds(Int(seconds * 1000))
    let start = clock.now
    let deadline = start + duration
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<callers {
            group.addTask {
                var count = 0
                while true {
                    // Check the clock every 64 operations; reading it is not free.
                    for _ in 0..<64 {
                        guard try await client.get(key) != nil else { fatalError("benchmark key \(key) is missing") }
                    }
                    count += 64
                    if clock.now >= deadline { return count }
                }
            }
        }
        var sum = 0
        for try await count in group { sum += count }
        return sum
    }
    let elapsed = start.duration(to: clock.now)
    let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(total) / elapsedSeconds
}

let options = parseOptions()
var logger = Logger(label: "redis-bench")
logger.logLevel = .warning
let client = RedisClient(
    configuration: RedisConfiguration(host: options.host, port: options.port, poolSize: options.poolSize),
    logger: logger
)
do {
    try await client.ping()
    // Warm up: connect every pooled connection and let the threads settle.
    _ = try await measure(client: client, key: options.key, callers: options.concurrency, seconds: 0.5)
    if options.mode != "concurrent" {
        let sequential = try await measure(client: client, key: options.key, callers: 1, seconds: options.seconds)
        print("sequential_ops_per_sec=\(Int(sequential))")
    }
    if options.mode != "sequential" {
        let concurrent = try await measure(client: client, key: options.key, callers: options.concurrency, seconds: options.seconds)
        print("concurrent_ops_per_sec=\(Int(concurrent))")
    }
} catch {
    printError("redis-bench: \(error)")
    client.shutdown()
    exit(1)
}
client.shutdown()
