import ArgumentParser
import FixityCore
import FixityHost
import FixityServer
import FixityStore
import FixityTrust
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "The per-environment trust policy deploys enforce.",
        subcommands: [Set.self, Show.self, History.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Put a policy file (TOML) in force; recorded in the ledger.",
            discussion: """
                With --server (or --sign), the policy goes to a server as a DSSE envelope signed by each --sign key: \
                the server takes it only when the [root] threshold of the policy in force, and of the new policy's own \
                [root], have signed. Needs a key with policy:write.
                """)
        @Argument(help: "The policy file.") var file: String
        @Option(help: "A root key file to sign the policy with (repeat for a threshold); server mode.")
        var sign: [String] = []
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                guard let data = FileManager.default.contents(atPath: file),
                    let text = String(data: data, encoding: .utf8)
                else {
                    throw CLIError("cannot read policy file \(file) (missing, unreadable or not UTF-8)")
                }
                let policy = try PolicyFile.parse(text, name: file)
                if connection.server != nil || !sign.isEmpty {
                    return try setOnServer(text, policy)
                }
                let store = try global.openStore()
                let stored = try store.setPolicy(
                    text: text,
                    summary: [
                        "environments": policy.environments.keys.sorted().joined(separator: ","),
                        "keys": policy.keys.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.id.short)" }.joined(
                            separator: ","),
                    ])
                if global.json {
                    try Output.json(stored)
                } else {
                    Output.line("policy \(stored.digest) in force (#\(stored.seq))")
                }
            }
        }

        private func setOnServer(_ text: String, _ policy: Policy) throws {
            guard policy.root != nil else {
                throw CLIError(
                    "policy \(file) has no [root] table: a server keeps only signed policies that name their root keys")
            }
            guard !sign.isEmpty else { throw CLIError("give --sign KEY for each root key that signs this policy") }
            let keys = try sign.map { try KeyFiles.load($0) }
            let envelope = SignedPolicy.sign(text: text, keys: keys)
            let record = try connection.session { client -> PolicyRecord in
                try await client.upload(.PUT, "/v1/policy", bytes: envelope.jsonBytes())
            }
            if global.json {
                try Output.json(record)
            } else {
                Output.line("policy \(record.digest) in force on the server (#\(record.seq))")
            }
            for warning in record.warnings ?? [] { Output.note("warning: \(warning)") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the policy in force.")
        @Option(help: "Print a server's signed policy in force instead (a release:read key in $FIXITY_API_KEY).")
        var server: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                if let server { return try showServer(server) }
                guard let stored = try global.openStore().currentPolicy() else {
                    if global.json {
                        try Output.json([String: String]())
                    } else {
                        Output.note("no policy set: no environment has requirements")
                    }
                    return
                }
                if global.json {
                    try Output.json(stored)
                } else {
                    Output.note("policy \(stored.digest) (#\(stored.seq), set \(stored.setAt))")
                    Output.line(stored.text)
                }
            }
        }

        /// The server's signed policy: its text unwrapped from the envelope, and who signed it.
        private func showServer(_ server: String) throws {
            let record = try ServerConnectionOptions.to(server).session { client -> PolicyRecord? in
                do {
                    return try await client.document(.GET, "/v1/policy")
                } catch let error as ServerClientError where error.status == 404 {
                    return nil
                }
            }
            guard let record else {
                if global.json { return try Output.json([String: String]()) }
                return Output.note("\(server) has no policy set")
            }
            if global.json { return try Output.json(record) }
            let (envelope, text) = try SignedPolicy.unwrap(
                Array(record.envelope.utf8), source: "the server's policy \(record.digest.short)")
            Output.note(
                "policy \(record.digest) (#\(record.seq), set \(record.setAt)), signed by "
                    + envelope.signatures.map(\.keyid).joined(separator: ", "))
            Output.line(text)
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history", abstract: "Every policy ever set, oldest first.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let all = try global.openStore().policies()
                if global.json {
                    try Output.json(["policies": all])
                } else {
                    Output.line(
                        Output.table(
                            [["#", "set at", "digest"]] + all.map { [String($0.seq), $0.setAt, $0.digest.description] })
                    )
                }
            }
        }
    }
}
