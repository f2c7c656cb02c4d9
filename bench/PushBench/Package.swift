// swift-tools-version:6.2
// WebSocket load client for bench/push, kept out of the main package so the product build does not
// carry it. Run it through ../push, which builds it in release mode and drives the scenarios.
import PackageDescription

let package = Package(
    name: "PushBench",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "push-bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Sources/PushBench",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .swiftLanguageMode(.v5)]
        ),
    ]
)
