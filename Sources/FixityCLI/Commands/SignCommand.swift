import ArgumentParser
import FixityCore
import FixityHost
import FixityStore
import FixityTrust
import Foundation

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a release (a DSSE envelope over an in-toto statement), or attach an envelope made elsewhere.")

    @Argument(help: "The release: sha256:<hex>, a unique hex prefix, or APP@VERSION.") var ref: String
    @Option(help: "The private key file.") var key: String?
    @Option(help: "What the signer vouches as (ci, qa, release-manager …), recorded in the statement.") var role:
        String?
    @Option(help: "Attach a DSSE envelope JSON file made by another tool instead of signing.") var envelope: String?
    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let release: ReleaseID
        let added: Bool
        let envelope: DSSEEnvelope
    }

    func validate() throws {
        guard (key == nil) != (envelope == nil) else {
            throw ValidationError("give exactly one of --key and --envelope")
        }
    }

    func run() throws {
        try runReportingFailures {
            let signingKey = try key.map(KeyFiles.load)
            let store = try global.openStore()
            let release = try store.resolve(try parseRef(ref))
            let result: Result
            if let signingKey {
                result = Result(
                    release: release, added: true,
                    envelope: try Attestations(store: store).approve(release, key: signingKey, role: role))
            } else {
                let path = envelope!
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw CLIError("cannot read envelope file \(path)")
                }
                let parsed = try DSSEEnvelope(json: [UInt8](data), source: path)
                result = Result(
                    release: release, added: try store.addEnvelope(parsed, about: release, source: path),
                    envelope: parsed)
            }
            if global.json {
                try Output.json(result)
            } else {
                Output.line(
                    "\(release) signed by \(result.envelope.signatures.map { String($0.keyid.prefix(12)) }.joined(separator: ", "))\(result.added ? "" : " (already recorded)")"
                )
            }
        }
    }
}

struct SignaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signatures",
        abstract: "List the DSSE envelopes recorded for a release (signatures, provenance, test results).")

    @Argument(help: "The release.") var ref: String
    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let release: ReleaseID
        let signatures: [DSSEEnvelope]
        let records: [StoredEnvelope]
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let release = try store.resolve(try parseRef(ref))
            let stored = try store.envelopes(about: release)
            if global.json {
                try Output.json(Result(release: release, signatures: stored.map(\.envelope), records: stored))
            } else if stored.isEmpty {
                Output.note("no signatures for \(release)")
            } else {
                let results = TestResults.byEnvelope(store: store, release: release)
                Output.line(
                    Output.table(
                        [["added", "type", "result", "key ids"]]
                            + stored.map {
                                [
                                    $0.addedAt, $0.predicateType, results[$0.digest.description] ?? "-",
                                    $0.keyIDs.isEmpty
                                        ? "(unsigned)" : $0.keyIDs.map { String($0.prefix(12)) }.joined(separator: ","),
                                ]
                            }))
            }
        }
    }
}
