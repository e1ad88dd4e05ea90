// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Baton",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LibPQ", targets: ["LibPQ"]),
        .library(name: "Baton", targets: ["Baton"]),
        .library(name: "BatonTesting", targets: ["BatonTesting"]),
        .executable(name: "baton", targets: ["BatonCLI"]),
        .executable(name: "baton-bench", targets: ["BatonBench"]),
        .executable(name: "baton-chaos", targets: ["BatonChaosCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(name: "LibPQ", dependencies: ["CLibPQ"]),
        .target(
            name: "Baton",
            dependencies: ["LibPQ", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams")],
            plugins: ["EmbedSchema"]
        ),
        .target(
            name: "BatonProviders",
            dependencies: [
                "Baton",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(name: "BatonTesting", dependencies: ["Baton", "LibPQ"]),
        .target(name: "BatonExamples", dependencies: ["Baton"]),
        .executableTarget(
            name: "BatonCLI",
            dependencies: [
                "Baton", "BatonExamples", "BatonProviders", "LibPQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "BatonBench",
            dependencies: [
                "Baton", "BatonExamples", "BatonTesting", "LibPQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "BatonChaos", dependencies: ["Baton", "BatonExamples", "BatonTesting", "LibPQ"]),
        .executableTarget(
            name: "BatonChaosCommand",
            dependencies: ["BatonChaos", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "BatonSchemaEmbedder"),
        .plugin(
            name: "EmbedSchema",
            capability: .buildTool(),
            dependencies: ["BatonSchemaEmbedder"]
        ),
        .testTarget(name: "LibPQTests", dependencies: ["LibPQ", "BatonTesting"]),
        .testTarget(
            name: "BatonTests",
            dependencies: [
                "Baton", "BatonChaos", "BatonExamples", "BatonProviders", "BatonTesting", "LibPQ",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
