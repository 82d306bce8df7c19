/// What an environment's agents do about drift on their roots: tell the server (always), and
/// under `repair` put the tree back at once (the evidence kept and reported).
public enum DriftResponse: String, Sendable, Equatable, Codable {
    case report
    case repair
}

/// Per-environment trust rules (DESIGN.md, "Policy file"): which keys are trusted, how many
/// distinct trusted keys must have signed a release, which environments it must already have
/// been known-good in, and whether a passing test attestation and a signed config are required.
/// Validated on construction; evaluated by `evaluate` with no I/O.
public struct Policy: Sendable, Equatable {
    public struct Environment: Sendable, Equatable {
        public let name: String
        public let trustedKeys: [String]
        public let threshold: Int
        public let requireKnownGoodIn: [String]
        public let requireTests: Bool
        public let requireSignedConfig: Bool
        /// What an agent does when its root drifts (`drift = "report"` or `"repair"`).
        public let drift: DriftResponse
        /// Access windows onto the environment's hosts (`[environments.NAME.access]`); nil: none.
        public let access: AccessRules?

        public init(
            name: String, trustedKeys: [String], threshold: Int, requireKnownGoodIn: [String] = [],
            requireTests: Bool = false, requireSignedConfig: Bool = false, drift: DriftResponse = .report,
            access: AccessRules? = nil
        ) {
            self.drift = drift
            self.access = access
            self.name = name
            self.trustedKeys = trustedKeys
            self.threshold = threshold
            self.requireKnownGoodIn = requireKnownGoodIn
            self.requireTests = requireTests
            self.requireSignedConfig = requireSignedConfig
        }
    }

    public let keys: [String: PublicKey]
    public let environments: [String: Environment]
    /// The environment a deploy without `--env` means (`default_environment`); nil: such a
    /// deploy is refused while this policy is in force.
    public let defaultEnvironment: String?
    /// The keys that may sign this policy's successor (`[root]`); a server and its agents accept
    /// only policies that carry it. Nil in a policy set locally without one.
    public let root: RootRole?

    public init(
        keys: [String: PublicKey], environments: [Environment], defaultEnvironment: String? = nil,
        root: RootRole? = nil
    ) throws(TrustError) {
        var byName = [String: Environment]()
        for env in environments {
            guard byName[env.name] == nil else { throw TrustError("environment '\(env.name)' is defined twice") }
            guard Set(env.trustedKeys).count == env.trustedKeys.count else {
                throw TrustError("environments.\(env.name).trusted_keys lists a key twice")
            }
            for name in env.trustedKeys where keys[name] == nil {
                throw TrustError("environments.\(env.name).trusted_keys: no key named '\(name)' in [keys]")
            }
            guard env.threshold >= 0 else {
                throw TrustError("environments.\(env.name).threshold must not be negative")
            }
            guard env.threshold <= env.trustedKeys.count else {
                throw TrustError(
                    "environments.\(env.name).threshold \(env.threshold) is larger than its \(env.trustedKeys.count) trusted keys: no release could ever pass"
                )
            }
            if (env.requireTests || env.requireSignedConfig) && env.trustedKeys.isEmpty {
                throw TrustError(
                    "environments.\(env.name): require_tests and require_signed_config need trusted_keys to sign with")
            }
            guard !env.requireKnownGoodIn.contains(env.name) else {
                throw TrustError("environments.\(env.name).require_known_good_in names the environment itself")
            }
            byName[env.name] = env
        }
        // A rule naming an environment the policy does not define could never be met on a root
        // bound to it (and a typo would silently block every deploy): refused.
        for env in environments {
            for earlier in env.requireKnownGoodIn where byName[earlier] == nil {
                throw TrustError(
                    "environments.\(env.name).require_known_good_in names '\(earlier)', which the policy does not define (defined: \(byName.keys.sorted().joined(separator: ", ")))"
                )
            }
        }
        if let defaultEnvironment, byName[defaultEnvironment] == nil {
            throw TrustError(
                "default_environment '\(defaultEnvironment)' is not defined (defined: \(byName.keys.sorted().joined(separator: ", ")))"
            )
        }
        let ids = keys.values.map(\.id)
        guard Set(ids).count == ids.count else { throw TrustError("[keys] lists the same public key under two names") }
        self.keys = keys
        self.environments = byName
        self.defaultEnvironment = defaultEnvironment
        self.root = root
    }

    /// What a release (and its config release) brings to an environment's gate.
    public struct Evidence: Sendable {
        public let release: ReleaseID
        public let envelopes: [DSSEEnvelope]
        /// Environments in which this release has been known-good on some root.
        public let knownGoodIn: Set<String>

        public init(release: ReleaseID, envelopes: [DSSEEnvelope], knownGoodIn: Set<String> = []) {
            self.release = release
            self.envelopes = envelopes
            self.knownGoodIn = knownGoodIn
        }
    }

    public struct Decision: Sendable, Encodable {
        public let environment: String
        /// False when the policy has no section for this environment: nothing is required.
        public let governed: Bool
        /// What is missing, one sentence each; empty when allowed.
        public let missing: [String]
        /// Trusted keys whose valid signatures counted.
        public let signers: [KeyID]
        /// Of the `require_known_good_in` environments, those this evidence did not show the
        /// release known-good in (each also a sentence of `missing`). A host judging alone sees
        /// only its own roots: the fleet's known-good is its server's word.
        public var knownGoodUnseen: [String] = []
        /// `missing` without those: what a host judging alone can say for itself.
        public var missingJudgedHere: [String] = []
        public var allowed: Bool { missing.isEmpty }

        public init(environment: String, governed: Bool, missing: [String], signers: [KeyID]) {
            self.environment = environment
            self.governed = governed
            self.missing = missing
            self.signers = signers
        }

        enum CodingKeys: String, CodingKey { case environment, governed, missing, signers, allowed }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(environment, forKey: .environment)
            try c.encode(governed, forKey: .governed)
            try c.encode(missing, forKey: .missing)
            try c.encode(signers, forKey: .signers)
            try c.encode(allowed, forKey: .allowed)
        }
    }

    /// Checks `app` (and `config`, when the deployment has one) against environment `env`.
    /// Signatures by untrusted keys, a key's second signature, statements about another digest
    /// and test results that did not pass are ignored, never errors: only the shortfall is.
    public func evaluate(env: String, app: Evidence, config: Evidence? = nil) -> Decision {
        guard let rules = environments[env] else {
            return Decision(environment: env, governed: false, missing: [], signers: [])
        }
        let trusted = rules.trustedKeys.compactMap { keys[$0] }
        var missing = [String]()
        let signers = Self.approvals(of: app.release, in: app.envelopes, trusted: trusted)
        if signers.count < rules.threshold {
            missing.append(shortfall("release \(app.release.short)", rules: rules, signers: signers))
        }
        for earlier in rules.requireKnownGoodIn where !app.knownGoodIn.contains(earlier) {
            missing.append(Self.neverKnownGood(app.release, in: earlier))
        }
        if rules.requireTests && !Self.hasPassingTest(of: app.release, in: app.envelopes, trusted: trusted) {
            missing.append(
                "release \(app.release.short) has no passing test attestation signed by a trusted key (fixity attest)")
        }
        if rules.requireSignedConfig, let config {
            let configSigners = Self.approvals(of: config.release, in: config.envelopes, trusted: trusted)
            if configSigners.count < max(1, rules.threshold) {
                missing.append(
                    shortfall(
                        "config release \(config.release.short)", rules: rules, signers: configSigners,
                        needed: max(1, rules.threshold)))
            }
        }
        var decision = Decision(environment: env, governed: true, missing: missing, signers: signers.sorted())
        decision.knownGoodUnseen = rules.requireKnownGoodIn.filter { !app.knownGoodIn.contains($0) }
        let unseen = Set(decision.knownGoodUnseen.map { Self.neverKnownGood(app.release, in: $0) })
        decision.missingJudgedHere = missing.filter { !unseen.contains($0) }
        return decision
    }

    /// The sentence of `missing` for a `require_known_good_in` environment not met.
    public static func neverKnownGood(_ release: ReleaseID, in env: String) -> String {
        "release \(release.short) was never known-good in \(env)"
    }

    private func shortfall(_ what: String, rules: Environment, signers: Set<KeyID>, needed: Int? = nil) -> String {
        let need = needed ?? rules.threshold
        let names = signers.sorted().map { id in
            keys.first { $0.value.id == id }.map { "\($0.key) (\(id.short))" } ?? id.short
        }
        return
            "\(what) needs \(need) signature\(need == 1 ? "" : "s") from trusted keys of \(rules.name) (\(rules.trustedKeys.joined(separator: ", "))), has \(signers.count)"
            + (names.isEmpty ? "" : ": " + names.joined(separator: ", "))
    }

    /// Distinct trusted keys with a valid approval or provenance statement naming `release`.
    static func approvals(of release: ReleaseID, in envelopes: [DSSEEnvelope], trusted: [PublicKey]) -> Set<KeyID> {
        var signers = Set<KeyID>()
        for envelope in envelopes {
            guard let statement = try? InTotoStatement(payload: envelope.payloadBytes, source: "envelope"),
                statement.names(release),
                statement.predicateType == InTotoStatement.PredicateType.release
                    || statement.predicateType == InTotoStatement.PredicateType.provenance
            else { continue }
            signers.formUnion(envelope.verifiedSigners(among: trusted))
        }
        return signers
    }

    static func hasPassingTest(of release: ReleaseID, in envelopes: [DSSEEnvelope], trusted: [PublicKey]) -> Bool {
        envelopes.contains { envelope in
            guard let statement = try? InTotoStatement(payload: envelope.payloadBytes, source: "envelope"),
                statement.names(release),
                statement.predicateType == InTotoStatement.PredicateType.testResult,
                statement.predicate["result"]?.string == "PASSED"
            else { return false }
            return !envelope.verifiedSigners(among: trusted).isEmpty
        }
    }
}
