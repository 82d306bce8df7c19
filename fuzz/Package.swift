// swift-tools-version:6.0
// libFuzzer harness for Fixity's parsers (docs/reliability.md). Built on its own so the main
// package never sees the sanitizer:
//   cd fuzz && swift build -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
//   .build/debug/FuzzParsers corpus/ -max_total_time=60
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, whatever the checkout is called.
let fixity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "fixity-fuzz",
    dependencies: [.package(path: ".."), .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0")],
    targets: [
        .executableTarget(
            name: "FuzzParsers",
            dependencies: [
                .product(name: "FixityCore", package: fixity), .product(name: "FixityConfig", package: fixity),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ])
    ],
    swiftLanguageModes: [.v6]
)
