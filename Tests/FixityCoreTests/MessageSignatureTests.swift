import FixityCore
import Testing

/// The host request signature (RFC 9421 subset, docs/agent.md): the signature base byte for
/// byte, what verifies, and every variation the parser must refuse.
@Suite struct MessageSignatureTests {
    static let key = SigningKey.generate()

    static func target(body: String = #"{"seq":1}"#) -> MessageSignature.Target {
        MessageSignature.Target(method: "post", path: "/v1/agent/reports", query: nil, body: Array(body.utf8))
    }

    @Test func theSignatureBaseIsPinnedByteForByte() {
        let id = KeyID(hex: String(repeating: "ab", count: 32))!
        let target = MessageSignature.Target(
            method: "GET", path: "/v1/agent/desired", query: "wait=30&tag=x", body: [])
        let base = String(
            decoding: MessageSignature.base(of: target, created: 1_700_000_000, keyID: id, nonce: "n0nce-n0nce-n0nce"),
            as: UTF8.self)
        #expect(
            base == """
                "@method": GET
                "@path": /v1/agent/desired
                "@query": ?wait=30&tag=x
                "content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:
                "@signature-params": ("@method" "@path" "@query" "content-digest");created=1700000000;keyid="\(id.hex)";alg="ed25519";nonce="n0nce-n0nce-n0nce"
                """)
    }

    @Test func aSignedRequestVerifiesAndAnyChangeBreaksIt() throws {
        let target = Self.target()
        let (input, value) = MessageSignature.sign(target, with: Self.key, created: 1_800_000_000)
        let parsed = try MessageSignature(signatureInput: input, signature: value)
        #expect(parsed.keyID == Self.key.id && parsed.created == 1_800_000_000)
        #expect(parsed.verifies(target, by: Self.key.publicKey))
        #expect(!parsed.verifies(Self.target(body: #"{"seq":2}"#), by: Self.key.publicKey))
        let otherPath = MessageSignature.Target(
            method: "POST", path: "/v1/agent/desired", query: nil, body: Array(#"{"seq":1}"#.utf8))
        #expect(!parsed.verifies(otherPath, by: Self.key.publicKey))
        #expect(!parsed.verifies(target, by: SigningKey.generate().publicKey))
    }

    @Test(arguments: [
        (
            "other=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;keyid=\"K\";alg=\"ed25519\";nonce=\"abcdefghijklmnop\"",
            "label"
        ),
        ("fixity=(\"@method\" \"@path\");created=1;keyid=\"K\";alg=\"ed25519\";nonce=\"abcdefghijklmnop\"", "cover"),
        (
            "fixity=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;keyid=\"K\";alg=\"rsa\";nonce=\"abcdefghijklmnop\"",
            "alg"
        ),
        ("fixity=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;keyid=\"K\";alg=\"ed25519\"", "nonce"),
        (
            "fixity=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;created=2;keyid=\"K\";alg=\"ed25519\";nonce=\"abcdefghijklmnop\"",
            "repeated"
        ),
        (
            "fixity=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=-1;keyid=\"K\";alg=\"ed25519\";nonce=\"abcdefghijklmnop\"",
            "created"
        ),
        (
            "fixity=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;keyid=\"K\";alg=\"ed25519\";nonce=\"short\"",
            "nonce"
        ),
        (
            "fixity=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;keyid=\"K\";alg=\"ed25519\";nonce=\"abcdefghijklmnop\";expires=9",
            "unknown"
        ),
    ])
    func malformedSignatureInputsAreRefused(input: String, _ what: String) {
        let keyed = input.replacingOccurrences(of: "\"K\"", with: "\"\(Self.key.id.hex)\"")
        let signature = "fixity=:" + Base64.encode([UInt8](repeating: 1, count: 64)) + ":"
        #expect(throws: SignatureError.self, "\(what)") {
            try MessageSignature(signatureInput: keyed, signature: signature)
        }
    }

    @Test func aSignatureThatIsNotSixtyFourBytesIsRefused() {
        let (input, _) = MessageSignature.sign(Self.target(), with: Self.key, created: 1)
        for bad in [
            "fixity=:AAAA:", "fixity=AAAA", "fixity=:not base64!:",
            "other=:" + Base64.encode([UInt8](repeating: 0, count: 64)) + ":",
        ] {
            #expect(throws: SignatureError.self) { try MessageSignature(signatureInput: input, signature: bad) }
        }
    }

    @Test func aHostIdentityRoundTripsAndRefusesATamperedFile() throws {
        let root = try RootRole(keys: [SigningKey.generate().publicKey, SigningKey.generate().publicKey], threshold: 2)
        let identity = HostIdentity(
            host: "web-01", env: "production", server: "https://cp:8443", key: Self.key, policyRoot: root)
        let back = try HostIdentity(fileBytes: identity.fileBytes(), name: "id")
        #expect(back.host == "web-01" && back.env == "production" && back.key.id == Self.key.id)
        #expect(back.policyRoot == root)
        let other = SigningKey.generate().publicKey.base64
        let tampered = String(decoding: identity.fileBytes(), as: UTF8.self).replacingOccurrences(
            of: Self.key.publicKey.base64, with: other)
        #expect(throws: TrustError.self) { try HostIdentity(fileBytes: Array(tampered.utf8), name: "id") }
        #expect(throws: TrustError.self) { try HostIdentity(fileBytes: Array("{}".utf8), name: "id") }
    }

    @Test func reportsAreBounded() throws {
        func report(_ seq: Int64 = 1, time: String = "2026-12-04T00:00:00Z", release: String? = nil, changes: Int = 0)
            -> AgentReport
        {
            AgentReport(
                seq: seq, event: .drift, time: time, tag: nil, release: release, deployment: nil,
                changes: (0..<changes).map {
                    ReportedChange(path: "f\($0)", kind: "modified", expected: nil, found: nil)
                },
                intervalSeconds: 30)
        }
        try report().validate()
        #expect(throws: TrustError.self) { try report(0).validate() }
        #expect(throws: TrustError.self) { try report(time: "yesterday").validate() }
        #expect(throws: TrustError.self) { try report(release: "web@1.0").validate() }
        #expect(throws: TrustError.self) { try report(changes: AgentReport.maximumChanges + 1).validate() }
    }
}
