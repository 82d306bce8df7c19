import Foundation

/// An in-toto Statement v1 (https://in-toto.io/Statement/v1) about one release: the subject
/// names the app and carries the release id's sha256, the predicate says what is claimed.
public struct InTotoStatement: Sendable, Codable, Equatable {
    public static let type = "https://in-toto.io/Statement/v1"

    /// What Fixity signs and reads.
    public enum PredicateType {
        /// "This key approves this release" (`fixity sign`, `seal --sign`).
        public static let release = "https://fixity.dev/attestation/release/v1"
        /// SLSA build provenance, recorded by `seal`.
        public static let provenance = "https://slsa.dev/provenance/v1"
        /// The outcome of `fixity attest --run` (in-toto's test-result predicate).
        public static let testResult = "https://in-toto.io/attestation/test-result/v0.1"
    }

    public struct Subject: Sendable, Codable, Equatable {
        public let name: String
        public let digest: [String: String]
    }

    public let type: String
    public let subject: [Subject]
    public let predicateType: String
    public let predicate: JSONValue

    enum CodingKeys: String, CodingKey {
        case type = "_type", subject, predicateType, predicate
    }

    public init(app: String, release: ReleaseID, predicateType: String, predicate: JSONValue) {
        type = Self.type
        subject = [Subject(name: app, digest: ["sha256": release.digest.hex])]
        self.predicateType = predicateType
        self.predicate = predicate
    }

    /// Parses a DSSE payload strictly: the statement type, one subject at least, a sha256 digest.
    public init(payload: [UInt8], source: String) throws(TrustError) {
        do { try StrictJSON.checkNoDuplicateKeys(payload) } catch {
            throw TrustError("\(source): statement has a \(error) (refused: tools disagree on which value counts)")
        }
        guard let statement = try? JSONDecoder().decode(InTotoStatement.self, from: Data(payload)) else {
            throw TrustError("\(source): payload is not an in-toto statement")
        }
        guard statement.type == Self.type else {
            throw TrustError("\(source): statement type '\(statement.type)' is not \(Self.type)")
        }
        guard !statement.subject.isEmpty,
            statement.subject.allSatisfy({ $0.digest["sha256"].flatMap(Digest.init(hex:)) != nil })
        else {
            throw TrustError("\(source): statement subject lacks a sha256 digest")
        }
        self = statement
    }

    /// True when some subject carries exactly this release's digest.
    public func names(_ release: ReleaseID) -> Bool {
        subject.contains { $0.digest["sha256"] == release.digest.hex }
    }

    public func jsonBytes() -> [UInt8] {
        JSONStyle.compact.bytes(self)
    }

    /// For a test-result statement: "PASSED" or "FAILED" (what `fixity attest` records); nil for
    /// any other predicate.
    public var testResult: String? {
        guard predicateType == PredicateType.testResult else { return nil }
        return predicate["result"]?.string ?? "FAILED"
    }
}
