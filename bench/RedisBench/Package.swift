// swift-tools-version:6.2
// Benchmark for TackRedis, kept out of the main package so the product build does not carry it.
// Run it through ../redis, which builds it in release mode, starts Redis and records the figures.
import PackageDescription

let package = Package(
    name: "RedisBench",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "redis-bench",
            dependencies: [.product(name: "TackRedis", package: "main")],
            path: "Sources/RedisBench",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
