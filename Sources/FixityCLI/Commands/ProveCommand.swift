import ArgumentParser
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import Foundation

/// `fixity prove REF --out FILE`: the proof bundle of a release, for an auditor.
struct ProveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove",
        abstract:
            "Write a self-contained proof bundle for a release: manifest, signatures, its ledger entries with inclusion proofs, a signed checkpoint."
    )

    @Argument(help: "The release (APP@VERSION, a digest or a unique prefix).") var ref: String
    @Option(help: "Where to write the bundle (JSON).") var out: String
    @Option(help: "Sign a fresh checkpoint with this private key first, so the bundle covers every entry up to now.")
    var key: String?
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let release = try store.resolve(try parseRef(ref))
            if let key {
                let signingKey = try KeyFiles.load(key)
                _ = try store.ledger.signCheckpoint(key: signingKey, at: store.clock.now())
            }
            let bundle = try ProofBundleBuilder(store: store).build(release: release)
            try DurableFile.replace(out, with: [UInt8](try JSONStyle.pretty.encoder().encode(bundle)) + [10])
            let summary = Summary(
                release: release, out: out, entries: bundle.entries.count, envelopes: bundle.envelopes.count)
            if global.json {
                try Output.json(summary)
            } else {
                Output.line(
                    "wrote \(out): release \(release.short), \(summary.entries) ledger entries with inclusion proofs, \(summary.envelopes) signatures, a signed checkpoint"
                )
            }
        }
    }

    struct Summary: Encodable {
        let release: ReleaseID
        let out: String
        let entries: Int
        let envelopes: Int
    }
}

/// `fixity verify-bundle FILE --key PUBKEY`: checks a proof bundle with no store and no network.
struct VerifyBundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-bundle",
        abstract:
            "Check a proof bundle offline: manifest digest, every inclusion proof, the checkpoint's signature, the DSSE signatures. Exit 1 if anything fails."
    )

    @Argument(help: "The bundle file.") var file: String
    @Option(help: "A public key to trust (ed25519:<base64>, or a file with it): the ledger's checkpoint key, signers'.")
    var key: [String] = []
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try runReportingFailures {
            // Deliberately opens no store: an auditor's laptop has none.
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError("cannot read bundle \(file)")
            }
            let bundle = try ProofBundle.parse([UInt8](data), source: file)
            let keys = try key.map(CheckpointFiles.publicKey)
            let report = bundle.verify(trusting: keys)
            if json {
                try Output.json(report)
            } else {
                Output.line("release \(report.release)  (\(report.files) files)")
                if let sealed = report.sealed { Output.line("  sealed      \(sealed)") }
                if !report.tags.isEmpty { Output.line("  tags        \(report.tags.joined(separator: ", "))") }
                for predicateType in report.unsigned {
                    Output.line("  unsigned    \(predicateType) (no signature: counts for nothing)")
                }
                for signer in report.signers {
                    Output.line(
                        "  signed      \(signer.result.map { "\($0) " } ?? "")\(signer.predicateType) by \(signer.keyID.prefix(16))… \(signer.trusted ? "(trusted key, signature verified)" : "(key not given: not checked)")"
                    )
                }
                for check in report.failedHealthChecks {
                    Output.line("  health FAILED \(check.time) on \(check.host):\(check.root) (entry \(check.seq))")
                }
                for away in report.switchesAway {
                    Output.line(
                        "  switched away \(away.time) on \(away.host):\(away.root) to \(away.deployment.prefix(19))… (entry \(away.seq))"
                    )
                }
                for activation in report.activations {
                    Output.line(
                        "  \(activation.action == "activate" ? "activated " : "rolled back") \(activation.time) on \(activation.host):\(activation.root) (entry \(activation.seq))"
                    )
                }
                Output.line(
                    "  checkpoint  size \(report.checkpointSize), root \(report.checkpointRoot)"
                        + (report.checkpointSigners.isEmpty
                            ? ""
                            : ", signed by \(report.checkpointSigners.map { String($0.prefix(16)) }.joined(separator: ", "))")
                )
                Output.line("  proved      \(report.entriesProved) of \(bundle.entries.count) ledger entries")
                for problem in report.problems { Output.note(problem) }
                Output.line(
                    report.ok
                        ? "bundle ok"
                        : "bundle NOT ok: \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")")
            }
            if !report.ok { throw Exit.finding }
        }
    }
}
