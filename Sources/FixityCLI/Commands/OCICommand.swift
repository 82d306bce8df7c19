import ArgumentParser
import FixityCore
import FixityHost
import FixityOCI
import FixityRegistry
import FixityStore
import Foundation

/// `fixity oci export|import`: releases as OCI images and back.
struct OCICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oci", abstract: "Releases as reproducible OCI images (image layouts), and images as releases.",
        subcommands: [Export.self, Import.self, Push.self, Verify.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract:
                "Write a release as an OCI image layout: the release tree as the top layer, reproducible byte for byte."
        )
        @Argument(help: "The release.") var ref: String
        @Option(help: "The layout folder to create.") var out: String
        @Option(help: "A base image pinned by digest: LAYOUT_DIR@sha256:… or REGISTRY/REPO@sha256:….") var base: String?
        @OptionGroup var image: ImageFlags
        @OptionGroup var registry: RegistryFlags
        @Option(help: "The ref name in the layout's index.json (for umoci/skopeo DIR:NAME).") var refName: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                let release = try store.resolve(try parseRef(ref))
                let flags = try image.settings()
                let epoch = try ImageFlags.sourceDateEpoch()
                let scratch = try PrivateTempFolder(purpose: "base")
                defer { scratch.remove() }
                let pinned = try BaseImage.local(base, scratch: scratch.child("layout"), registry: registry)
                let progress = ProgressLine(enabled: global.showsProgress, verb: "exporting")
                defer { progress.finish() }
                let report = try ImageExporter(store: store).export(
                    release, to: out, flags: flags, base: pinned, epoch: epoch, refName: refName,
                    progress: progress.reporter)
                progress.finish()
                if global.json {
                    try Output.json(report)
                } else {
                    Output.line("\(report.image)")
                    Output.note(
                        "wrote \(out): image \(report.image.short), layer \(report.layer.short) (\(report.layerBytes) bytes gzip), release \(release.short)"
                    )
                }
            }
        }

    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract:
                "Seal an image (LAYOUT_DIR[@sha256:…], LAYOUT_DIR:NAME as skopeo names it, or REGISTRY/REPO@sha256:…) as a release: layers flattened, every entry validated."
        )
        @Argument(help: "The image.") var image: String
        @OptionGroup var registry: RegistryFlags
        @Option(help: "The application the release belongs to.") var app: String
        @Option(help: "Also tag the release APP@VERSION.") var tag: String?
        @Option(
            name: .customLong("max-size"),
            help: "The most the layers may expand to, in bytes or with K, M, G, T (default 16G).") var maxSize: String?
        @Flag(
            name: .customLong("keep-setid"),
            help: "Keep setuid/setgid bits as the image has them (stripped by default).") var keepSetid = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if let maxSize, ByteCount.parse(maxSize) == nil {
                throw ValidationError(
                    "--max-size must be a number of bytes, optionally with K, M, G or T (got '\(maxSize)')")
            }
        }

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                var limits = ImageImporter.Limits()
                if let maxSize, let bytes = ByteCount.parse(maxSize) { limits.maxExpandedBytes = bytes }
                limits.keepSetid = keepSetid
                var source = image
                var recordedAs: String?
                let scratch = try PrivateTempFolder(purpose: "pull")
                defer { scratch.remove() }
                let local = ImageImporter.split(image).0
                let layoutName = local.lastIndex(of: ":").map { String(local[..<$0]) }
                let isLocal =
                    FileManager.default.fileExists(atPath: local)
                    || layoutName.map { FileManager.default.fileExists(atPath: $0) } == true
                if !isLocal, image.contains("/"), let reference = try? RegistryReference(parsing: image) {
                    let (layout, insecure, credentials) = (
                        scratch.child("layout"), registry.insecure, try registry.credentials()
                    )
                    try waitFor {
                        try await ImagePuller().pull(
                            reference, into: layout, insecure: insecure, credentials: credentials)
                    }
                    source = scratch.child("layout")
                    recordedAs = reference.description
                }
                let progress = ProgressLine(enabled: global.showsProgress, verb: "importing")
                defer { progress.finish() }
                let report = try ImageImporter(store: store, limits: limits, validate: DeploySettings.validateForSeal)
                    .importImage(
                        source, app: try AppName(parsing: app), tag: tag, recordedAs: recordedAs,
                        progress: progress.reporter)
                progress.finish()
                if global.json {
                    try Output.json(report)
                } else {
                    Output.line("\(report.release)")
                    Output.note(
                        "imported image \(report.image.short): \(report.layers) layers, \(report.files) files as release \(report.release.short)\(report.existed ? " (already in the store)" : "")"
                    )
                }
            }
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract:
                "Push a release as an image (the digest oci export gives) with its signatures as OCI 1.1 referrers; prints the digest."
        )
        @Argument(help: "The release.") var ref: String
        @Argument(help: "REGISTRY/REPO[:TAG].") var destination: String
        @Option(help: "A base image pinned by digest: LAYOUT_DIR@sha256:… or REGISTRY/REPO@sha256:….") var base: String?
        @OptionGroup var image: ImageFlags
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                let release = try store.resolve(try parseRef(ref))
                let reference = try RegistryReference(parsing: destination)
                let scratch = try PrivateTempFolder(purpose: "base")
                defer { scratch.remove() }
                let pinned = try BaseImage.local(base, scratch: scratch.child("layout"), registry: registry)
                let (settings, epoch) = (try image.settings(), try ImageFlags.sourceDateEpoch())
                let (insecure, credentials) = (registry.insecure, try registry.credentials())
                let report = try waitFor {
                    try await ImagePusher(store: store).push(
                        release, to: reference, flags: settings, base: pinned, epoch: epoch, insecure: insecure,
                        credentials: credentials)
                }
                if global.json {
                    try Output.json(report)
                } else {
                    Output.line(report.image.description)
                    Output.note(
                        "pushed \(report.reference): \(report.uploaded.count) blobs uploaded, \(report.skipped.count) already there, \(report.referrers.count) signatures attached"
                    )
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract:
                "Check an image's signatures (its referrers) against a policy environment, without pulling layers. Exit 1 if it falls short."
        )
        @Argument(help: "REGISTRY/REPO@sha256:DIGEST.") var image: String
        @Option(help: "The policy environment to check against.") var env: String
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                let reference = try RegistryReference(parsing: image)
                let (env, insecure, credentials) = (env, registry.insecure, try registry.credentials())
                let report = try waitFor {
                    try await ImageVerifier(store: store).verify(
                        reference, env: env, insecure: insecure, credentials: credentials)
                }
                if global.json {
                    try Output.json(report)
                } else {
                    Output.line(
                        "image \(report.image) is release \(report.release.short); \(report.envelopes) envelopes among \(report.referrers) referrers"
                    )
                    for missing in report.missing { Output.note(missing) }
                    Output.line(
                        report.allowed
                            ? "\(env): allowed (signed by \(report.signers.map { String($0.hex.prefix(12)) }.joined(separator: ", ")))"
                            : "\(env): NOT allowed")
                }
                if !report.allowed { throw Exit.finding }
            }
        }
    }
}

/// A `--base` in a registry is copied into a scratch layout first (verified blob by blob), so the
/// exporter only ever reads layouts.
enum BaseImage {
    static func local(_ base: String?, scratch: String, registry: RegistryFlags) throws -> String? {
        guard let base else { return nil }
        let (location, digest) = ImageImporter.split(base)
        guard !FileManager.default.fileExists(atPath: location), location.contains("/"), let digest,
            let reference = try? RegistryReference(parsing: base)
        else {
            return base
        }
        let (insecure, credentials) = (registry.insecure, try registry.credentials())
        try waitFor {
            try await ImagePuller().pull(reference, into: scratch, insecure: insecure, credentials: credentials)
        }
        return "\(scratch)@\(digest)"
    }
}

/// Image settings flags, shared by export and push.
struct ImageFlags: ParsableArguments {
    @Option(parsing: .singleValue, help: "The entrypoint, one argument per use.") var entrypoint: [String] = []
    @Option(parsing: .singleValue, help: "The default command, one argument per use.") var cmd: [String] = []
    @Option(help: "An environment variable K=V (repeatable).") var env: [String] = []
    @Option(help: "The working directory.") var workdir: String?
    @Option(help: "The user to run as.") var user: String?
    @Option(help: "OS/ARCH[/VARIANT] (default: the base's, else linux/amd64).") var platform: String?

    func settings() throws -> ImageSettings {
        var flags = ImageSettings()
        if !entrypoint.isEmpty { flags.entrypoint = entrypoint }
        if !cmd.isEmpty { flags.cmd = cmd }
        for pair in env where !pair.contains("=") || pair.hasPrefix("=") {
            throw CLIError("--env '\(pair)' is not K=V")
        }
        flags.env = env
        flags.workdir = workdir
        flags.user = user
        do { flags.platform = try platform.map { try OCI.Platform(parsing: $0) } } catch let error as OCIError {
            throw CLIError(error.message)
        }
        return flags
    }

    /// SOURCE_DATE_EPOCH (reproducible-builds.org): a non-negative integer, or 0 when unset.
    static func sourceDateEpoch() throws -> Int64 {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return 0 }
        guard let value = Int64(text), value >= 0 else {
            throw CLIError("SOURCE_DATE_EPOCH='\(text)' is not a non-negative integer")
        }
        return value
    }
}

/// How to reach a registry.
struct RegistryFlags: ParsableArguments {
    @Flag(help: "Plain HTTP, to a loopback address only (a local test registry).") var insecure = false
    @Option(help: "Registry user (with --password-stdin); default: ~/.docker/config.json.") var username: String?
    @Flag(help: "Read the registry password from standard input.") var passwordStdin = false

    func credentials() throws -> RegistryCredentials? {
        guard let username else {
            if passwordStdin { throw CLIError("--password-stdin needs --username") }
            return nil
        }
        guard passwordStdin else {
            throw CLIError("--username needs --password-stdin (a password on the command line shows in ps)")
        }
        let password = (readLine(strippingNewline: true) ?? "")
        return RegistryCredentials(username: username, password: password)
    }
}
