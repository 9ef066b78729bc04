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
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
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
        .target(
            name: "InletServer",
            dependencies: [
                "PostgresClient",
                "InletSchema",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "App",
            dependencies: [
                "InletServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
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
            name: "InletServerTests",
            dependencies: [
                "InletServer", "InletTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
