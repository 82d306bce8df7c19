// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "fixity",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fixity", targets: ["FixityCLI"]),
        // For the fuzz harness (fuzz/Package.swift): the pure parsers and the TOML guard.
        .library(name: "FixityCore", targets: ["FixityCore"]),
        .library(name: "FixityConfig", targets: ["FixityConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // NIOThreadPool, where FixityApp runs blocking work for async callers (already built
        // for async-http-client).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // `fixity serve`: HTTP (and TLS), graceful shutdown, Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // `fixity serve --database postgres://…`: metadata and the ledger of server replicas.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The dashboard's server-rendered pages (`fixity serve`, /dashboard).
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // Syscalls Swift cannot see directly (syncfs, FICLONE, sync_file_range, the immutable attribute, signal flags).
        .target(name: "CFixitySys"),
        // zlib for OCI layers; only FixityOCI links it.
        .target(name: "CFixityZlib", linkerSettings: [.linkedLibrary("z")]),
        // Pure domain: no file or network I/O.
        .target(
            name: "FixityCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // The content-addressed store on a file system.
        .target(
            name: "FixityStore",
            dependencies: [
                "FixityCore", "CFixitySys", "FixityLedger",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // TOML documents (a release's fixity.toml, a policy file): the guard, then TOMLKit.
        .target(
            name: "FixityConfig",
            dependencies: ["FixityCore", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // OCI images: gzip, layouts, export of a release, import of an image as a release.
        // (The document types and the tar reader are pure formats: FixityCore, fuzzed there.)
        .target(
            name: "FixityOCI",
            dependencies: [
                "FixityCore", "FixityStore", "FixityLedger", "FixityConfig", "CFixityZlib",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // Trust in releases: the policy file, provenance, approvals and test attestations, and
        // known-good from the ledger.
        .target(
            name: "FixityTrust",
            dependencies: [
                "FixityCore", "FixityStore", "FixityLedger", "FixityConfig",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // A deploy root: lock, materialize, activate, health check, rollback.
        .target(
            name: "FixityHost",
            dependencies: [
                "FixityStore", "FixityCore", "FixityLedger", "FixityConfig", "FixityTrust", "CFixitySys",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // The history of state changes, persisted in SQLite.
        .target(
            name: "FixityLedger",
            dependencies: ["FixityCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The OCI distribution API: push, referrers, verify against a registry.
        .target(
            name: "FixityRegistry",
            dependencies: [
                "FixityCore", "FixityStore", "FixityOCI", "FixityTrust", "FixityLedger",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // A server's API keys: made, listed, revoked, rotated, checked (the gate of `fixity serve`).
        .target(
            name: "FixityAccess",
            dependencies: ["FixityCore", "FixityStore", "FixityLedger", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The use cases the CLI, the server and an agent share: each synchronous for the CLI and
        // async for servers (its blocking work on a thread pool, never on an event loop).
        .target(
            name: "FixityApp",
            dependencies: [
                "FixityCore", "FixityStore", "FixityHost", "FixityTrust", "FixityLedger",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // `fixity serve`: the control plane's HTTP API over a store (routes, the key gate,
        // metrics, graceful shutdown), and the client the CLI pushes and pulls with.
        .target(
            name: "FixityServer",
            dependencies: [
                "FixityCore", "FixityStore", "FixityLedger", "FixityAccess", "FixityApp", "FixityTrust", "FixityHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // The dashboard's templates, stylesheet and script, compiled into the binary.
            resources: [.embedInCode("Dashboard/Assets")]
        ),
        // `fixity agent`: a host that pulls, verifies for itself, converges, heals and reports.
        .target(
            name: "FixityAgent",
            dependencies: [
                "FixityCore", "FixityStore", "FixityHost", "FixityTrust", "FixityApp", "FixityServer", "CFixitySys",
            ]
        ),
        .executableTarget(
            name: "FixityCLI",
            dependencies: [
                "FixityCore", "FixityStore", "FixityHost", "FixityLedger", "FixityOCI", "FixityTrust",
                "FixityRegistry", "FixityApp", "FixityAccess", "FixityServer", "FixityAgent", "CFixitySys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // What tests share: a clock that moves only when told (more to come: the sandbox and the
        // conformance suites every Ledger implementation must pass).
        .target(name: "FixityTesting", dependencies: ["FixityCore", "FixityLedger"]),
        .testTarget(name: "FixityCoreTests", dependencies: ["FixityCore", "FixityConfig"]),
        .testTarget(
            name: "FixityCLITests",
            dependencies: [
                "FixityCLI", "FixityCore", "FixityStore", "FixityHost", "FixityLedger", "FixityOCI", "FixityTrust",
                "FixityRegistry", "FixityApp", "FixityAccess", "FixityServer", "FixityAgent", "FixityTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
