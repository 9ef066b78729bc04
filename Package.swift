// swift-tools-version:6.2
import PackageDescription

// The data path reads straight through the targets:
//   CLibPQ (C module) → PostgresClient (Swift over libpq) → InletSchema (migrations) → InletServer
// and the two executables, `inlet` (App) and `migrator` (Migrator), stay thin.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "inlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "inlet", targets: ["App"]),
        .executable(name: "migrator", targets: ["Migrator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // glibc's mallopt, for `inlet serve` (see Sources/App/MallocTuning.swift).
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "InletGzip",
            dependencies: ["CZlib"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresClient",
            dependencies: ["CLibPQ"],
            swiftSettings: swiftSettings
        ),
        // Turns sql/*.sql into Swift source at build time, so both binaries carry the migrations
        // and `migrator` needs no working directory (SPEC: "they ship inside the binary").
        .executableTarget(name: "EmbedMigrationsTool", swiftSettings: swiftSettings),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["EmbedMigrationsTool"]
        ),
        .target(
            name: "InletSchema",
            dependencies: [
                "PostgresClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedMigrations"]
        ),
        // Parsing, validation and normalisation of Segment messages into COPY rows: the hot path,
        // kept free of HTTP and database code so it can be benchmarked and fuzzed alone.
        .target(
            name: "InletMessages",
            dependencies: ["PostgresClient", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "InletServer",
            dependencies: [
                "InletGzip",
                "PostgresClient",
                "InletMessages",
                "InletSchema",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "App",
            dependencies: [
                "InletServer",
                "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Migrator",
            dependencies: [
                "InletSchema",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Release-mode microbenchmark of the hot path (MessageParser.parse), for `make bench`.
        .executableTarget(
            name: "InletBench",
            dependencies: ["InletMessages", "PostgresClient"],
            swiftSettings: swiftSettings
        ),
        // libFuzzer target over MessageParser and Gunzip (`make fuzz`); without -DINLET_FUZZ a replay tool.
        .executableTarget(
            name: "InletFuzz",
            dependencies: ["InletMessages", "InletGzip", "PostgresClient"],
            exclude: ["inlet.dict"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "InletTestSupport",
            dependencies: ["PostgresClient", "InletSchema"],
            path: "Tests/InletTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "InletTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InletSchemaTests",
            // Depends on the executable so `swift test` builds it: the concurrency test runs two
            // real `migrator up` processes.
            dependencies: ["InletSchema", "PostgresClient", "InletTestSupport", "Migrator"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InletMessagesTests",
            dependencies: ["InletMessages", "PostgresClient", "InletTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InletServerTests",
            dependencies: [
                "InletServer", "InletTestSupport", "InletGzip",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
