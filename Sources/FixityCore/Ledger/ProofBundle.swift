import Foundation

/// A self-contained proof about one release (docs/ledger.md, "Proof bundles"): its manifest,
/// its DSSE envelopes, the ledger entries of its seal, tags, signatures, deploys and activations
/// with inclusion proofs, and the signed checkpoint those proofs are against. `verify` needs
/// nothing else — no store, no network — only the public keys the auditor trusts.
public struct ProofBundle: Codable, Sendable {
    public static let type = "https://fixity.dev/proof-bundle/v1"

    public struct Item: Codable, Sendable {
        public let entry: LedgerEntry
        public let inclusion: InclusionProof
        public init(entry: LedgerEntry, inclusion: InclusionProof) {
            self.entry = entry
            self.inclusion = inclusion
        }
    }

    public let type: String
    public let release: String
    /// Base64 of the manifest's canonical bytes: the release id is their SHA-256.
    public let manifest: String
    /// Each DSSE envelope's exact JSON text, whose SHA-256 its `sign`/`attest` entry records.
    public let envelopes: [String]
    public let entries: [Item]
    /// The signed-note checkpoint every inclusion proof is against.
    public let checkpoint: String

    public init(release: ReleaseID, manifest: [UInt8], envelopes: [[UInt8]], entries: [Item], checkpoint: String) {
        type = Self.type
        self.release = release.description
        self.manifest = Base64.encode(manifest)
        self.envelopes = envelopes.map { String(decoding: $0, as: UTF8.self) }
        self.entries = entries
        self.checkpoint = checkpoint
    }

    /// Which entries a bundle for `release` carries: its seal, tags, signatures and attestations
    /// (subject = release), the deploys that name it (details.release) and the switches to those
    /// deployments.
    /// Also the health results of those deployments (failed ones included), the switches away
    /// from them (an `activate`/`rollback` whose `previous`/`from` is one of them) and
    /// `deactivate`s: the release's whole story, not only its good moments.
    public static func isAbout(_ entry: LedgerEntry, release: String, deployments: Set<String>) -> Bool {
        switch entry.kind {
        case .seal?, .tag?, .sign?, .attest?, .adopt?: entry.subject == release
        case .deploy?: entry.details["release"] == release
        case .activate?, .rollback?:
            entry.details["release"] == release || deployments.contains(entry.subject)
                || deployments.contains(entry.details["previous"] ?? "")
                || deployments.contains(entry.details["from"] ?? "")
        case .health?, .deactivate?: deployments.contains(entry.subject)
        default: false
        }
    }

    /// A switching or deploy entry whose `release`/`config`/`config_path` details do not hash to
    /// its subject (the deployment id): a problem sentence, nil when they agree or are absent.
    static func pairProblem(_ entry: LedgerEntry) -> String? {
        guard [.deploy, .activate, .rollback].contains(entry.kind), let releaseText = entry.details["release"],
            let release = Digest(parsing: releaseText).map(ReleaseID.init)
        else { return nil }
        let configText = entry.optionalDetail("config")
        let config = configText.flatMap { Digest(parsing: $0).map(ReleaseID.init) }
        if let configText, config == nil { return "entry \(entry.seq): config '\(configText)' is not a digest" }
        let path = entry.optionalDetail("config_path")
        guard
            let deployment = try? Deployment(
                release: release, config: config, configPath: config == nil ? nil : (path ?? "config"))
        else {
            return "entry \(entry.seq): its release/config pair is not a valid deployment"
        }
        return deployment.id.description == entry.subject
            ? nil
            : "entry \(entry.seq) (\(entry.action)): its subject \(entry.subject.prefix(19))… is not the deployment of its release/config pair"
    }

    // MARK: Verification

    public struct Signer: Sendable, Encodable {
        public let predicateType: String
        public let keyID: String
        public let trusted: Bool
        /// For a test result: PASSED or FAILED.
        public var result: String?
        enum CodingKeys: String, CodingKey { case predicateType = "predicate_type", keyID = "key_id", trusted, result }
    }

    public struct Activation: Sendable, Encodable {
        public let seq: Int64
        public let time: String
        public let host: String
        public let root: String
        public let deployment: String
        public let action: String
    }

    public struct Report: Sendable, Encodable {
        public var release = ""
        public var files = 0
        public var sealed: String?
        public var tags = [String]()
        public var signers = [Signer]()
        /// Predicate types of envelopes that carry no signature (a seal without --sign): listed,
        /// counted for nothing, never an error.
        public var unsigned = [String]()
        public var activations = [Activation]()
        /// Switches away from the release's deployments, and its failed health checks.
        public var switchesAway = [Activation]()
        public var failedHealthChecks = [Activation]()
        public var checkpointSize = 0
        public var checkpointRoot = ""
        public var checkpointSigners = [String]()
        public var entriesProved = 0
        public var problems = [String]()
        public var ok: Bool { problems.isEmpty }

        enum CodingKeys: String, CodingKey {
            case release, files, sealed, tags, signers, unsigned, activations, switchesAway = "switches_away",
                failedHealthChecks = "failed_health_checks"
            case checkpointSize = "checkpoint_size", checkpointRoot = "checkpoint_root"
            case checkpointSigners = "checkpoint_signers", entriesProved = "entries_proved", problems, ok
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(release, forKey: .release)
            try c.encode(files, forKey: .files)
            try c.encodeIfPresent(sealed, forKey: .sealed)
            try c.encode(tags, forKey: .tags)
            try c.encode(signers, forKey: .signers)
            try c.encode(unsigned, forKey: .unsigned)
            try c.encode(activations, forKey: .activations)
            try c.encode(switchesAway, forKey: .switchesAway)
            try c.encode(failedHealthChecks, forKey: .failedHealthChecks)
            try c.encode(checkpointSize, forKey: .checkpointSize)
            try c.encode(checkpointRoot, forKey: .checkpointRoot)
            try c.encode(checkpointSigners, forKey: .checkpointSigners)
            try c.encode(entriesProved, forKey: .entriesProved)
            try c.encode(problems, forKey: .problems)
            try c.encode(ok, forKey: .ok)
        }
    }

    /// Parses a bundle file strictly enough that every later check sees well-typed fields.
    public static func parse(_ bytes: [UInt8], source: String) throws(LedgerError) -> ProofBundle {
        let bundle: ProofBundle
        do {
            bundle = try StrictJSON.decode(ProofBundle.self, from: bytes)
        } catch {
            throw LedgerError("\(source): not a proof bundle (\(Self.describe(error)))")
        }
        guard bundle.type == Self.type else {
            throw LedgerError("\(source): unknown bundle type '\(bundle.type)' (expected \(Self.type))")
        }
        guard Digest(parsing: bundle.release) != nil else {
            throw LedgerError("\(source): release '\(bundle.release)' is not a sha256 digest")
        }
        return bundle
    }

    /// Every check an auditor needs, with `keys` the only thing trusted. Signatures by other keys
    /// are reported untrusted, not errors; everything else that does not check out is a problem.
    public func verify(trusting keys: [PublicKey]) -> Report {
        var report = Report()
        report.release = release
        func problem(_ text: String) { report.problems.append(text) }

        // The manifest is the release: its SHA-256 is the id.
        if let bytes = Base64.decode(manifest) {
            if Digest.of(bytes).description != release {
                problem("the manifest does not hash to \(release): it is not this release's manifest")
            } else {
                do { report.files = try UnverifiedManifest(bytes: bytes).verified().fileCount } catch {
                    problem("the manifest is invalid: \(error.description)")
                }
            }
        } else {
            problem("the manifest is not valid base64")
        }

        // The checkpoint, signed by a trusted key.
        var checkpointTree: Checkpoint?
        do {
            let (parsed, text, signatures) = try Checkpoint.parse(checkpoint, source: "the bundle's checkpoint")
            report.checkpointSize = parsed.size
            report.checkpointRoot = Hex.encode(parsed.root)
            let signers = Checkpoint.verifiedBy(text: text, signatures: signatures, keys: keys)
            report.checkpointSigners = signers.map(\.hex)
            if signers.isEmpty {
                problem(
                    keys.isEmpty
                        ? "the checkpoint's signature was not checked: give the ledger's checkpoint key with --key"
                        : "the checkpoint is not signed by any given key (signed as \(signatures.map(\.name).joined(separator: ", ")))"
                )
            }
            checkpointTree = parsed
        } catch {
            problem("the checkpoint: \(error.message)")
        }

        // Every entry: its canonical bytes, its leaf, its path to the checkpoint's root.
        var deployments = Set<String>()
        var envelopeDigests = [String: LedgerEntry]()
        for item in entries where item.entry.action == "deploy" && item.entry.details["release"] == release {
            deployments.insert(item.entry.subject)
        }
        var seen = Set<Int64>()
        for item in entries {
            let entry = item.entry
            let proof = item.inclusion
            // Each entry once: four copies of one signature must not read as four approvals.
            guard seen.insert(entry.seq).inserted else {
                problem("entry \(entry.seq) appears more than once in the bundle")
                continue
            }
            guard let bytes = Base64.decode(proof.entry), bytes == entry.canonicalBytes() else {
                problem("entry \(entry.seq): the proof's bytes are not the entry's canonical encoding")
                continue
            }
            guard proof.leafIndex == Int(entry.seq), Hex.encode(Merkle.leafHash(bytes)) == proof.leafHash else {
                problem("entry \(entry.seq): leaf index or leaf hash does not match the entry")
                continue
            }
            if let tree = checkpointTree {
                if proof.treeSize != tree.size || !proof.verifies(against: Hex.encode(tree.root)) {
                    problem(
                        "entry \(entry.seq) (\(entry.action)): its inclusion proof does not lead to the checkpoint's root"
                    )
                    continue
                }
            }
            guard Self.isAbout(entry, release: release, deployments: deployments) else {
                problem("entry \(entry.seq) (\(entry.action) \(entry.subject)) is not about \(release)")
                continue
            }
            report.entriesProved += 1
            switch entry.kind {
            case .seal?: report.sealed = "\(entry.time) on \(entry.host) by \(entry.actor)"
            case .tag?: if let tag = entry.details["tag"] { report.tags.append(tag) }
            case .sign?, .attest?: if let digest = entry.details["envelope"] { envelopeDigests[digest] = entry }
            case .activate?, .rollback?:
                if let issue = Self.pairProblem(entry) { problem(issue) }
                let activation = Activation(
                    seq: entry.seq, time: entry.time, host: entry.host, root: entry.details["root"] ?? "?",
                    deployment: entry.subject, action: entry.action)
                if deployments.contains(entry.subject) || entry.details["release"] == release {
                    report.activations.append(activation)
                } else {
                    report.switchesAway.append(activation)
                }
            case .deploy?:
                if let issue = Self.pairProblem(entry) { problem(issue) }
            case .health? where entry.details["result"] == HealthResult.fail.rawValue:
                report.failedHealthChecks.append(
                    Activation(
                        seq: entry.seq, time: entry.time, host: entry.host, root: entry.details["root"] ?? "?",
                        deployment: entry.subject, action: entry.action))
            default: break
            }
        }
        if report.sealed == nil { problem("no proved seal entry for \(release)") }

        // Envelopes: each one recorded in a proved entry, about this release, its signatures checked.
        guard let releaseID = Digest(parsing: release).map(ReleaseID.init) else { return report }
        let carried = Set(envelopes.map { Digest.of(Array($0.utf8)).description })
        for (digest, entry) in envelopeDigests.sorted(by: { $0.value.seq < $1.value.seq })
        where !carried.contains(digest) {
            problem("entry \(entry.seq) records envelope \(digest.prefix(19))… but the bundle does not carry it")
        }
        var seenEnvelopes = Set<String>()
        for text in envelopes {
            let bytes = Array(text.utf8)
            let digest = Digest.of(bytes).description
            guard seenEnvelopes.insert(digest).inserted else {
                problem("envelope \(digest.prefix(19))… appears more than once in the bundle")
                continue
            }
            guard envelopeDigests[digest] != nil else {
                problem("envelope \(digest.prefix(19))… is not recorded by any proved ledger entry")
                continue
            }
            do {
                let envelope = try DSSEEnvelope(
                    json: bytes, source: "envelope \(digest.prefix(19))…", allowUnsigned: true)
                let statement = try InTotoStatement(
                    payload: envelope.payloadBytes, source: "envelope \(digest.prefix(19))…")
                guard statement.names(releaseID) else {
                    problem("envelope \(digest.prefix(19))… is not about \(release)")
                    continue
                }
                if envelope.signatures.isEmpty { report.unsigned.append(statement.predicateType) }
                let trusted = envelope.verifiedSigners(among: keys)
                for signature in envelope.signatures {
                    report.signers.append(
                        Signer(
                            predicateType: statement.predicateType, keyID: signature.keyid,
                            trusted: trusted.contains { $0.hex == signature.keyid },
                            result: statement.testResult))
                }
            } catch {
                problem(error.message)
            }
        }
        return report
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: "\(error)"
        }
    }
}
