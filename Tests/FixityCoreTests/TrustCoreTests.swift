import FixityCore
import Foundation
import Testing

@Suite struct TrustCoreTests {
    let release = ReleaseID(Digest.of(Array("release".utf8)))
    let other = ReleaseID(Digest.of(Array("other".utf8)))
    let ci = SigningKey.generate()
    let alice = SigningKey.generate()
    let mallory = SigningKey.generate()

    func approval(_ key: SigningKey, of release: ReleaseID, type: String = InTotoStatement.PredicateType.release)
        -> DSSEEnvelope
    {
        let statement = InTotoStatement(
            app: "shop", release: release, predicateType: type, predicate: .object(["app": .string("shop")]))
        return DSSEEnvelope.sign(payload: statement.jsonBytes(), key: key)
    }

    func testResult(_ key: SigningKey, passed: Bool) -> DSSEEnvelope {
        let statement = InTotoStatement(
            app: "shop", release: release, predicateType: InTotoStatement.PredicateType.testResult,
            predicate: .object(["result": .string(passed ? "PASSED" : "FAILED")]))
        return DSSEEnvelope.sign(payload: statement.jsonBytes(), key: key)
    }

    func policy(
        threshold: Int = 2, keys: [String: SigningKey]? = nil, knownGood: [String] = [], tests: Bool = false,
        signedConfig: Bool = false
    ) throws -> Policy {
        let keys = keys ?? ["ci": ci, "alice": alice]
        return try Policy(
            keys: keys.mapValues(\.publicKey),
            environments: [
                .init(name: "staging", trustedKeys: keys.keys.sorted(), threshold: 1),
                .init(
                    name: "production", trustedKeys: keys.keys.sorted(), threshold: threshold,
                    requireKnownGoodIn: knownGood, requireTests: tests, requireSignedConfig: signedConfig),
            ])
    }

    @Test func preAuthenticationEncodingMatchesTheDSSESpecExample() {
        let pae = DSSEEnvelope.pae(type: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    @Test func keyIDIsTheSHA256OfTheRawPublicKey() {
        #expect(ci.id.hex == Digest.of(ci.publicKey.raw).hex)
        #expect(ci.publicKey.raw.count == 32)
    }

    @Test func keyFileRoundTripsAndCorruptFilesAreRefused() throws {
        let bytes = ci.fileBytes()
        #expect(try SigningKey(fileBytes: bytes, name: "k").id == ci.id)
        #expect(throws: TrustError.self) { try SigningKey(fileBytes: Array(bytes.prefix(40)), name: "truncated") }
        let swapped = String(decoding: bytes, as: UTF8.self).replacingOccurrences(
            of: ci.publicKey.base64, with: alice.publicKey.base64)
        #expect(throws: TrustError.self) { try SigningKey(fileBytes: Array(swapped.utf8), name: "mismatched") }
        let short = String(decoding: bytes, as: UTF8.self).replacingOccurrences(
            of: "\"seed\":\"", with: "\"seed\":\"AAAA")
        #expect(throws: TrustError.self) { try SigningKey(fileBytes: Array(short.utf8), name: "wrong size") }
    }

    @Test func envelopeVerifiesOnlyForItsSignerAndUntouchedPayload() throws {
        let envelope = approval(ci, of: release)
        #expect(envelope.verifiedSigners(among: [ci.publicKey, alice.publicKey]) == [ci.id])
        #expect(envelope.verifiedSigners(among: [alice.publicKey]).isEmpty)
        let parsed = try DSSEEnvelope(json: envelope.jsonBytes(), source: "e")
        #expect(parsed == envelope)
        // Any change to the payload or the type breaks the signature.
        var payload = envelope.payloadBytes
        payload[payload.count / 2] ^= 1
        let tampered = DSSEEnvelope(
            payloadType: envelope.payloadType, payload: Base64.encode(payload), signatures: envelope.signatures)
        #expect(tampered.verifiedSigners(among: [ci.publicKey]).isEmpty)
        let retyped = DSSEEnvelope(
            payloadType: "application/json", payload: envelope.payload, signatures: envelope.signatures)
        #expect(retyped.verifiedSigners(among: [ci.publicKey]).isEmpty)
    }

    @Test(arguments: [
        #"{"payload":"e30=","signatures":[]}"#,  // no type
        // wrong type
        #"{"payloadType":"application/json","payload":"e30=","signatures":[{"keyid":"a","sig":"AAAA"}]}"#,
        #"{"payloadType":"application/vnd.in-toto+json","payload":"not base64!","signatures":[{"keyid":"a","sig":"AAAA"}]}"#,
        #"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#,  // unsigned
        // short sig
        #"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"a","sig":"AAAA"}]}"#,
        "not json",
    ])
    func malformedEnvelopesAreRefused(_ text: String) {
        #expect(throws: TrustError.self) { try DSSEEnvelope(json: Array(text.utf8), source: "bad") }
    }

    @Test func thresholdCountsDistinctTrustedKeysOnly() throws {
        let policy = try policy()
        // Two signatures by the same key count once; mallory is not trusted; another digest does not count.
        let evidence = Policy.Evidence(
            release: release,
            envelopes: [
                approval(ci, of: release), approval(ci, of: release), approval(mallory, of: release),
                approval(alice, of: other),
            ])
        let decision = policy.evaluate(env: "production", app: evidence)
        #expect(!decision.allowed)
        #expect(decision.signers == [ci.id])
        #expect(decision.missing.first?.contains("needs 2 signatures from trusted keys of production") == true)
        #expect(decision.missing.first?.contains("has 1: ci (\(ci.id.short))") == true)
        let enough = Policy.Evidence(release: release, envelopes: evidence.envelopes + [approval(alice, of: release)])
        #expect(policy.evaluate(env: "production", app: enough).allowed)
    }

    @Test func provenanceCountsAsApprovalButTestResultsDoNot() throws {
        let policy = try policy(threshold: 1)
        #expect(
            policy.evaluate(
                env: "production",
                app: .init(
                    release: release,
                    envelopes: [approval(ci, of: release, type: InTotoStatement.PredicateType.provenance)])
            ).allowed)
        #expect(
            !policy.evaluate(env: "production", app: .init(release: release, envelopes: [testResult(ci, passed: true)]))
                .allowed)
    }

    @Test func promotionNeedsKnownGoodInEarlierEnvironments() throws {
        let policy = try policy(threshold: 1, knownGood: ["staging"])
        let signed = [approval(ci, of: release)]
        let before = policy.evaluate(env: "production", app: .init(release: release, envelopes: signed))
        #expect(before.missing == ["release \(release.short) was never known-good in staging"])
        #expect(
            policy.evaluate(
                env: "production", app: .init(release: release, envelopes: signed, knownGoodIn: ["staging"])
            ).allowed)
    }

    @Test func requiredTestsMustHavePassedAndBeSignedByATrustedKey() throws {
        let policy = try policy(threshold: 1, tests: true)
        let signed = [approval(ci, of: release)]
        #expect(
            !policy.evaluate(
                env: "production", app: .init(release: release, envelopes: signed + [testResult(ci, passed: false)])
            ).allowed)
        #expect(
            !policy.evaluate(
                env: "production", app: .init(release: release, envelopes: signed + [testResult(mallory, passed: true)])
            ).allowed)
        #expect(
            policy.evaluate(
                env: "production", app: .init(release: release, envelopes: signed + [testResult(alice, passed: true)])
            ).allowed)
    }

    @Test func removingAKeyFromThePolicyRevokesItsSignatures() throws {
        let envelopes = [approval(ci, of: release), approval(alice, of: release)]
        #expect(try policy().evaluate(env: "production", app: .init(release: release, envelopes: envelopes)).allowed)
        let rotated = try policy(threshold: 1, keys: ["ci": ci])
        let stillOne = rotated.evaluate(env: "production", app: .init(release: release, envelopes: envelopes))
        #expect(stillOne.allowed && stillOne.signers == [ci.id])
        let withoutCI = try policy(threshold: 1, keys: ["alice2": mallory])
        #expect(!withoutCI.evaluate(env: "production", app: .init(release: release, envelopes: envelopes)).allowed)
    }

    @Test func signedConfigIsRequiredWhenTheEnvironmentSaysSo() throws {
        let policy = try policy(threshold: 1, signedConfig: true)
        let config = ReleaseID(Digest.of(Array("config".utf8)))
        let app = Policy.Evidence(release: release, envelopes: [approval(ci, of: release)])
        #expect(!policy.evaluate(env: "production", app: app, config: .init(release: config, envelopes: [])).allowed)
        #expect(
            policy.evaluate(
                env: "production", app: app, config: .init(release: config, envelopes: [approval(alice, of: config)])
            ).allowed)
        #expect(policy.evaluate(env: "production", app: app).allowed, "no config: nothing to sign")
    }

    @Test func environmentsWithoutRulesAreUngoverned() throws {
        let decision = try policy().evaluate(env: "dev", app: .init(release: release, envelopes: []))
        #expect(decision.allowed && !decision.governed)
    }

    @Test func impossiblePoliciesAreRefused() {
        let keys = ["ci": ci.publicKey]
        #expect(throws: TrustError.self) {
            try Policy(keys: keys, environments: [.init(name: "p", trustedKeys: ["ci"], threshold: 2)])
        }
        #expect(throws: TrustError.self) {
            try Policy(keys: keys, environments: [.init(name: "p", trustedKeys: ["bob"], threshold: 1)])
        }
        #expect(throws: TrustError.self) {
            try Policy(keys: keys, environments: [.init(name: "p", trustedKeys: ["ci", "ci"], threshold: 1)])
        }
        #expect(throws: TrustError.self) { try Policy(keys: ["a": ci.publicKey, "b": ci.publicKey], environments: []) }
        #expect(throws: TrustError.self) {
            try Policy(
                keys: keys,
                environments: [.init(name: "p", trustedKeys: ["ci"], threshold: 1, requireKnownGoodIn: ["p"])])
        }
    }
}
