import ArgumentParser
import FixityCore
import FixityHost
import FixityLedger
import FixityServer
import FixityStore
import FixityTrust
import Foundation

/// Checkpoint files and the keys that may sign them, at the CLI's edge.
enum CheckpointFiles {
    /// A checkpoint note from FILE and the keys whose signatures on it verify. With --key, the
    /// keys given are the only ones accepted (a checkpoint held off the host is worth what its
    /// signer is); without, the policy's keys and those that signed this store's own checkpoints.
    /// A signature by a known key that does not verify is "bad signature", not "unknown key".
    static func load(_ path: String, store: Store, extraKeys: [String]) throws -> (Checkpoint, signers: [KeyID]) {
        let given = try extraKeys.map(publicKey)
        guard let data = FileManager.default.contents(atPath: path), let note = String(data: data, encoding: .utf8)
        else {
            throw CLIError("cannot read checkpoint file \(path)")
        }
        let (checkpoint, text, signatures) = try Checkpoint.parse(note, source: path)
        var keys = given
        if given.isEmpty {
            keys = try store.ledger.checkpointKeys()
            if let policy = try store.currentPolicy() {
                keys += try PolicyFile.parse(policy.text, name: "in force").keys.values
            }
        }
        let signers = Checkpoint.verifiedBy(text: text, signatures: signatures, keys: keys)
        guard !signers.isEmpty else {
            let bad = Checkpoint.badSignatures(text: text, signatures: signatures, keys: keys)
            if !bad.isEmpty {
                throw CLIError(
                    "\(path): bad signature by key \(bad.map { $0.hex.prefix(16) + "…" }.joined(separator: ", ")): the checkpoint was altered after it was signed, or forged"
                )
            }
            let which =
                given.isEmpty ? "give the signer's public key with --key ed25519:…" : "not by the key given with --key"
            throw CLIError(
                "\(path): signed by an unknown key (\(signatures.map(\.name).joined(separator: ", "))); \(which)")
        }
        return (checkpoint, signers)
    }

    /// `ed25519:<base64>`, a file holding that text, or a Fixity key file (its public part only).
    /// A file's contents never appear in an error: it may be a private key.
    static func publicKey(_ value: String) throws -> PublicKey {
        if value.hasPrefix("ed25519:") {
            do { return try PublicKey(policyText: value) } catch {
                throw CLIError("--key \(value.prefix(20))…: not an Ed25519 public key (ed25519:<base64 of 32 bytes>)")
            }
        }
        guard let data = FileManager.default.contents(atPath: value), data.count <= 4096 else {
            throw CLIError("--key \(value): neither ed25519:<base64> nor a readable key file")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let key = try? PublicKey(policyText: text) { return key }
        if let key = try? SigningKey(fileBytes: Array(data), name: value) { return key.publicKey }
        throw CLIError("--key \(value): the file holds neither ed25519:<base64> nor a Fixity key file")
    }
}

extension LogCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract:
                "Recompute every leaf and subtree; check stored checkpoints and the given one. Exit 1 naming the first bad entry."
        )
        @Option(help: "A checkpoint held elsewhere: the ledger must be an append-only extension of it.") var checkpoint:
            String?
        @Option(help: "A public key (ed25519:<base64>, or a file with it) trusted to sign checkpoints.") var key:
            [String] = []
        @Option(
            help:
                "With --server: the key the server signs checkpoints with; its current checkpoint is fetched and checked."
        )
        var serverKey: [String] = []
        @Option(help: "With --server: keep the server's checked checkpoint in FILE, for the next audit.")
        var saveCheckpoint: String?
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        struct Result: Encodable {
            let verification: Ledger.Verification
            let checkpoint: CheckpointResult?
            /// Table rows that the ledger does not back, and entries whose rows are gone.
            let tables: [String]
            var ok: Bool { verification.ok && (checkpoint?.consistent ?? true) && tables.isEmpty }
            enum CodingKeys: String, CodingKey { case verification, checkpoint, tables, ok }
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(verification, forKey: .verification)
                try c.encodeIfPresent(checkpoint, forKey: .checkpoint)
                try c.encode(tables, forKey: .tables)
                try c.encode(ok, forKey: .ok)
            }
        }
        struct CheckpointResult: Encodable {
            let size: Int
            let signers: [KeyID]
            let consistent: Bool
            let problem: String?
        }

        func run() throws {
            try runReportingFailures {
                if connection.server != nil { return try auditServer() }
                let store = try global.openStore()
                // Every --key is checked, even without --checkpoint: a typo is an error, not ignored.
                _ = try key.map(CheckpointFiles.publicKey)
                if checkpoint == nil && !key.isEmpty {
                    throw CLIError("--key only applies to --checkpoint FILE: give the checkpoint to check against")
                }
                let held = try checkpoint.map { try CheckpointFiles.load($0, store: store, extraKeys: key) }
                let ledger = store.ledger
                let verification = try ledger.verify()
                let checked = try held.map { cp, signers in
                    // What a holder of the old checkpoint would check: a consistency proof to now.
                    let check = try LedgerAuditor.check(
                        ledger, verification: verification, againstCheckpointOf: cp.size, root: cp.root)
                    return CheckpointResult(
                        size: cp.size, signers: signers, consistent: check.consistent, problem: check.problem)
                }
                // The tables are caches of the ledger: every row against its entries, both ways.
                let tables = try store.crossCheckLedger() + RootLedgerCheck.problems(store: store)
                let result = Result(verification: verification, checkpoint: checked, tables: tables)
                if global.json {
                    try Output.json(result)
                } else {
                    for problem in verification.problems { Output.note("ledger: \(problem)") }
                    if let problem = checked?.problem { Output.note("checkpoint: \(problem)") }
                    for problem in tables { Output.note("table: \(problem)") }
                    if result.ok {
                        Output.line(
                            "ledger ok: \(verification.size) entries, root \(verification.root), \(verification.checkpointsChecked) stored checkpoints match"
                                + (checked.map { ", consistent with the given checkpoint of size \($0.size)" } ?? ""))
                    } else {
                        if !verification.ok || !(checked?.consistent ?? true) {
                            Output.line(
                                "ledger NOT ok: first bad entry \(verification.firstBadSeq.map(String.init) ?? String(checked?.size ?? 0))"
                            )
                        } else {
                            Output.line(
                                "ledger NOT ok: \(tables.count) table row\(tables.count == 1 ? "" : "s") disagree with the ledger (listed above)"
                            )
                        }
                    }
                }
                if !result.ok { throw Exit.finding }
            }
        }
    }

    struct CheckpointCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Sign the ledger's size and root (a tlog checkpoint note); keep a copy anywhere.")
        @Option(help: "The private key that signs.") var key: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let signingKey = try KeyFiles.load(key)
                let store = try global.openStore()
                let note = try store.ledger.signCheckpoint(key: signingKey, at: store.clock.now())
                if global.json {
                    try Output.json(["checkpoint": note])
                } else {
                    StandardStream.output.write(Data(note.utf8))
                }
            }
        }
    }

    struct Prove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prove",
            abstract: "An inclusion proof for entry SEQ that anyone can check with docs/ledger.md alone.")
        @Argument(help: "The entry's sequence number.") var seq: Int64
        @Option(help: "Prove against this checkpoint's tree (default: the whole ledger now).") var checkpoint: String?
        @Option(help: "A public key trusted to sign checkpoints.") var key: [String] = []
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                let held = try checkpoint.map { try CheckpointFiles.load($0, store: store, extraKeys: key).0 }
                let proof = try store.ledger.inclusionProofDocument(seq: seq, size: held?.size)
                if let held, proof.rootHash != Hex.encode(held.root) {
                    throw CLIError(
                        "the ledger's tree at size \(held.size) does not match the checkpoint: the ledger was rewritten (fixity log verify)"
                    )
                }
                if global.json {
                    try Output.json(proof)
                } else {
                    Output.line("entry \(seq) is leaf \(proof.leafIndex) of \(proof.treeSize); root \(proof.rootHash)")
                    Output.line("leaf hash \(proof.leafHash)")
                    for (level, hash) in proof.auditPath.enumerated() { Output.line("  path[\(level)] \(hash)") }
                }
            }
        }
    }

    struct Consistency: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "consistency",
            abstract:
                "A consistency proof that the tree of OLD_SIZE is a prefix of the tree of NEW_SIZE (default: now).")
        @Argument var oldSize: Int
        @Argument var newSize: Int?
        @OptionGroup var global: GlobalOptions

        struct Result: Encodable {
            let oldSize: Int, newSize: Int, oldRoot: String, newRoot: String, proof: [String]
            enum CodingKeys: String, CodingKey {
                case oldSize = "old_size", newSize = "new_size", oldRoot = "old_root", newRoot = "new_root", proof
            }
        }

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                // The log only grows: proofs for sizes up to the size read first stay true.
                let ledger = store.ledger
                let size = try ledger.size()
                let new = newSize ?? size
                guard oldSize >= 0, oldSize <= new, new <= size else {
                    throw CLIError("sizes must satisfy 0 <= OLD_SIZE <= NEW_SIZE <= \(size) (the ledger's size)")
                }
                let result = Result(
                    oldSize: oldSize, newSize: new, oldRoot: Hex.encode(try ledger.root(size: oldSize)),
                    newRoot: Hex.encode(try ledger.root(size: new)),
                    proof: try ledger.consistencyProof(from: oldSize, to: new).map(Hex.encode))
                if global.json {
                    try Output.json(result)
                } else {
                    Output.line("\(result.oldSize) -> \(result.newSize): \(result.oldRoot) -> \(result.newRoot)")
                    for hash in result.proof { Output.line("  \(hash)") }
                }
            }
        }
    }
}

extension LogCommand.Verify {
    /// `log verify --server URL`: a client-side audit of a server's ledger (LedgerAudit); the
    /// keys that vouch for a held checkpoint come from the command line only, never the server.
    func auditServer() throws {
        let held = try checkpoint.map { path -> Checkpoint in
            guard !key.isEmpty else {
                throw CLIError(
                    "--checkpoint with --server needs --key: the public key that signed it (not the server's word)")
            }
            let keys = try key.map(CheckpointFiles.publicKey)
            guard let data = FileManager.default.contents(atPath: path), let note = String(data: data, encoding: .utf8)
            else { throw CLIError("cannot read checkpoint file \(path)") }
            let (parsed, text, signatures) = try Checkpoint.parse(note, source: path)
            guard !Checkpoint.verifiedBy(text: text, signatures: signatures, keys: keys).isEmpty else {
                throw CLIError("\(path): not signed by the key given with --key")
            }
            return parsed
        }
        let serverKeys = try serverKey.map(CheckpointFiles.publicKey)
        if saveCheckpoint != nil && serverKeys.isEmpty {
            throw CLIError("--save-checkpoint needs --server-key: the key the server signs its checkpoints with")
        }
        let report = try connection.session { client in
            try await LedgerAudit.run(client: client, held: held, serverKeys: serverKeys)
        }
        if let saveCheckpoint, let note = report.serverCheckpoint {
            try DurableFile.replace(saveCheckpoint, with: Array(note.utf8))
        }
        if global.json {
            try Output.json(report)
        } else {
            for problem in report.problems { Output.note("ledger: \(problem)") }
            if report.ok {
                Output.line(
                    "server ledger ok: \(report.size) entries, root \(report.root) (recomputed here)"
                        + (report.checkpointSize.map { ", consistent with the given checkpoint of size \($0)" } ?? "")
                        + (report.serverCheckpoint != nil ? ", the server's signed checkpoint matches" : ""))
            }
        }
        if !report.ok { throw Exit.finding }
    }
}
