import ArgumentParser
import FixityCore
import FixityServer
import FixityLedger
import FixityStore
import Foundation

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "The tamper-evident ledger of state changes (an RFC 6962 Merkle log).",
        subcommands: [List.self, Export.self, Verify.self, CheckpointCommand.self, Prove.self, Consistency.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Entries, readable (the default).")
        @Option(help: "Start at this sequence number.") var since: Int64 = 0
        @Option(help: "List a server's ledger instead of the store's (a ledger:read key in $FIXITY_API_KEY).")
        var server: String?
        @OptionGroup var global: GlobalOptions

        struct Result: Encodable { let entries: [LedgerEntry] }
        struct Page: Decodable, Sendable {
            let size: Int
            let entries: [LedgerEntry]
        }

        func run() throws {
            try runReportingFailures {
                let events: [LedgerEntry]
                if let server {
                    events = try ServerConnectionOptions.to(server).session { [since] client -> [LedgerEntry] in
                        var entries = [LedgerEntry]()
                        var from = max(0, since)
                        while true {
                            let page: Page = try await client.document(.GET, "/v1/ledger?from=\(from)&count=1000")
                            entries += page.entries
                            from += Int64(page.entries.count)
                            if page.entries.isEmpty || from >= Int64(page.size) { return entries }
                        }
                    }
                } else {
                    events = try global.openStore().history(since: since)
                }
                if global.json {
                    try Output.json(Result(entries: events))
                    return
                }
                let rows = events.map { event in
                    [
                        String(event.seq), String(event.time.prefix(19)) + "Z", event.actor, event.action,
                        event.subject,
                        event.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
                    ]
                }
                if !rows.isEmpty { Output.line(Output.table(rows)) }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "JSON lines for a SIEM: each entry with its leaf hash and canonical bytes."
        )
        @Option(help: "Start at this sequence number.") var since: Int64 = 0
        @OptionGroup var global: GlobalOptions

        struct Line: Encodable {
            let entry: LedgerEntry
            let leafHash: String
            let canonical: String
            enum CodingKeys: String, CodingKey { case entry, leafHash = "leaf_hash", canonical }
        }

        func run() throws {
            try runReportingFailures {
                let encoder = JSONStyle.compact.encoder()
                for entry in try global.openStore().history(since: since) {
                    let bytes = entry.canonicalBytes()
                    let line = Line(
                        entry: entry, leafHash: Hex.encode(Merkle.leafHash(bytes)), canonical: Base64.encode(bytes))
                    StandardStream.output.write(try encoder.encode(line) + Data("\n".utf8))
                }
            }
        }
    }
}
