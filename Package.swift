// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "retentiond",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "retentiond", targets: ["retentiond"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .target(
            name: "RetentionCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "RetentionStore", dependencies: ["RetentionCore"]),
        .target(
            name: "RetentionSQLite",
            dependencies: [
                "RetentionStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "RetentionPostgres",
            dependencies: [
                "RetentionStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // The connection errors beneath PostgresNIO's, to say why a server cannot be reached.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // MariaDB Connector/C, from Debian's libmariadb-dev, as GRDB uses the system libsqlite3.
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .target(
            name: "RetentionMariaDB",
            dependencies: [
                "RetentionStore", "CMariaDB",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RetentionDemo",
            dependencies: [
                "RetentionCore", "RetentionStore", "RetentionSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "RetentionEngine",
            dependencies: [
                "RetentionCore", "RetentionStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "retentiond",
            dependencies: [
                "RetentionCore", "RetentionStore", "RetentionSQLite", "RetentionPostgres", "RetentionMariaDB",
                "RetentionEngine", "RetentionDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "RetentionCoreTests", dependencies: ["RetentionCore"]),
        // The one test CRM (either database) and the suite's own PostgreSQL 15 server.
        .target(
            name: "TestSupport",
            dependencies: [
                "RetentionCore", "RetentionStore", "RetentionSQLite", "RetentionPostgres", "RetentionMariaDB",
                "RetentionEngine", "RetentionDemo",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        // The engine's behaviour, every test on both databases.
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "TestSupport", "RetentionCore", "RetentionStore", "RetentionEngine", "RetentionDemo",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What only SQLite has: its file (bytes left behind, a byte-identical dry run) and date storage formats.
        .testTarget(
            name: "SQLiteStoreTests",
            dependencies: [
                "TestSupport", "RetentionCore", "RetentionStore", "RetentionSQLite", "RetentionEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        // What only PostgreSQL has: native date types, lost connections, row and advisory locks.
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["TestSupport", "RetentionCore", "RetentionStore", "RetentionPostgres", "RetentionEngine"]
        ),
        // What only MariaDB's server does: connections killed mid-run, row locks.
        .testTarget(
            name: "MariaDBStoreTests",
            dependencies: ["TestSupport", "RetentionCore", "RetentionStore", "RetentionMariaDB", "RetentionEngine"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["retentiond", "RetentionCore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
