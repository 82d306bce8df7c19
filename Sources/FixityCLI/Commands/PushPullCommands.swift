import ArgumentParser
import FixityCore
import FixityServer
import FixityStore

/// `fixity push REF`: a release and its tags to a server; only the blobs it lacks travel.
struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Send a release and its tags to a server (only missing blobs travel).",
        discussion: "Needs a key with release:read and release:push. --json: release, blobs_sent, bytes_sent.")

    @Argument(help: "The release: sha256:<hex>, a unique hex prefix, or APP@VERSION.") var ref: String
    @OptionGroup var connection: ServerConnectionOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let parsed = try parseRef(ref)
            let store = try global.openStore()
            let report = try connection.session { client in
                try await ReleaseTransfer.push(parsed, from: store, to: client)
            }
            if global.json { return try Output.json(report) }
            let tags = report.tags.isEmpty ? "" : " (\(report.tags.joined(separator: ", ")))"
            Output.line(
                "pushed \(report.release)\(tags): \(report.blobsSent) of \(report.blobsTotal) blobs sent, \(Output.bytes(report.bytesSent))"
            )
        }
    }
}

/// `fixity pull REF`: a release and its tags from a server into the local store, every blob
/// verified; the release id comes out the same or nothing is recorded.
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch a release and its tags from a server (every blob verified).",
        discussion: "Needs a key with release:read.")

    @Argument(help: "The release on the server: sha256:<hex>, a unique hex prefix, or APP@VERSION.") var ref: String
    @OptionGroup var connection: ServerConnectionOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let parsed = try parseRef(ref)
            let store = try global.openStore()
            let report = try connection.session { client in
                try await ReleaseTransfer.pull(parsed, into: store, from: client)
            }
            if global.json { return try Output.json(report) }
            let tags = report.tags.isEmpty ? "" : " (\(report.tags.joined(separator: ", ")))"
            Output.line(
                "pulled \(report.release)\(tags): \(report.blobsReceived) of \(report.blobsTotal) blobs received, \(Output.bytes(report.bytesReceived))"
            )
        }
    }
}
