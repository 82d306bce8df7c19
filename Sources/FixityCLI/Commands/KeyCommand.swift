import ArgumentParser
import FixityCore

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Ed25519 signing keys.", subcommands: [Generate.self, Public.self])

    struct Summary: Encodable {
        let id: KeyID
        let publicKey: String
        let policyEntry: String
        enum CodingKeys: String, CodingKey { case id, publicKey = "public_key", policyEntry = "policy_entry" }
        init(_ key: PublicKey) {
            id = key.id
            publicKey = key.base64
            policyEntry = key.policyText
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate", abstract: "Create a private key file (mode 0600; never overwrites).")
        @Option(help: "Where to write the private key.") var out: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let key = SigningKey.generate()
                try KeyFiles.create(key, at: out)
                if global.json {
                    try Output.json(Summary(key.publicKey))
                } else {
                    Output.line(key.publicKey.policyText)
                    Output.note("wrote \(out) (key id \(key.id))")
                }
            }
        }
    }

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public", abstract: "Print a key file's public key and id.")
        @Argument(help: "The private key file.") var keyfile: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let key = try KeyFiles.load(keyfile)
                if global.json {
                    try Output.json(Summary(key.publicKey))
                } else {
                    Output.line(key.publicKey.policyText)
                    Output.note("key id \(key.id)")
                }
            }
        }
    }
}
