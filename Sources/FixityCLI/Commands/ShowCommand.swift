import ArgumentParser
import FixityCore
import FixityStore

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a release's manifest.")

    @Argument(help: "The release: sha256:<hex>, a unique hex prefix, or APP@VERSION.")
    var ref: String

    @Flag(help: "Print the release's SLSA provenance statements (and who signed them) instead of the manifest.")
    var provenance = false

    @OptionGroup var global: GlobalOptions

    struct ProvenanceResult: Encodable {
        let release: ReleaseID
        let provenance: [InTotoStatement]
        let envelopes: [DSSEEnvelope]
    }

    struct Entry: Encodable {
        let path: String
        let type: String
        let mode: String
        let size: UInt64?
        let digest: Digest?
        let target: String?

        init(_ entry: ManifestEntry) {
            path = entry.path
            type = entry.typeName
            mode = entry.modeString
            size = entry.digest == nil ? nil : entry.size
            digest = entry.digest
            target = entry.target
        }
    }

    struct Result: Encodable {
        let release: ReleaseID
        let files: Int
        let bytes: UInt64
        let entries: [Entry]
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let release = try store.resolve(try parseRef(ref))
            if provenance {
                let stored = try store.envelopes(about: release).filter {
                    $0.predicateType == InTotoStatement.PredicateType.provenance
                }
                let statements = try stored.map {
                    try InTotoStatement(
                        payload: $0.envelope.payloadBytes, source: "stored provenance \($0.digest.short)")
                }
                if global.json {
                    try Output.json(
                        ProvenanceResult(release: release, provenance: statements, envelopes: stored.map(\.envelope)))
                } else if statements.isEmpty {
                    Output.note("no provenance recorded for \(release)")
                } else {
                    for (statement, record) in zip(statements, stored) {
                        Output.line(
                            "provenance of \(release), signed by \(record.keyIDs.isEmpty ? "nobody" : record.keyIDs.map { String($0.prefix(12)) }.joined(separator: ", "))"
                        )
                        Output.line(String(decoding: statement.jsonBytes(), as: UTF8.self))
                    }
                }
                return
            }
            let manifest = try store.manifest(release)
            if global.json {
                try Output.json(
                    Result(
                        release: manifest.id, files: manifest.fileCount, bytes: manifest.fileBytes,
                        entries: manifest.entries.map(Entry.init)))
                return
            }
            Output.line("release \(manifest.id)")
            Output.line(
                "\(manifest.fileCount) files, \(Output.bytes(manifest.fileBytes)), \(manifest.entries.count) entries\n")
            var rows = [[String]]()
            for entry in manifest.entries {
                let detail: String =
                    switch entry.kind {
                    case .file(let size, let digest): "\(size)\t\(digest.short)"
                    case .directory: "-\t-"
                    case .symlink(let target): "-\t-> \(target)"
                    }
                let parts = detail.split(separator: "\t").map(String.init)
                rows.append([entry.modeString, entry.typeName, parts[0], parts[1], entry.path])
            }
            Output.line(Output.table(rows))
        }
    }
}
