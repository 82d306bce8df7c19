import FixityCore
import FixityStore

/// PASSED/FAILED of the test-result envelopes about a release, by envelope digest, for output
/// that lists attestations (`signatures`, `state`).
enum TestResults {
    static func byEnvelope(store: Store, release: ReleaseID?) -> [String: String] {
        guard let release, let stored = try? store.envelopes(about: release) else { return [:] }
        var results = [String: String]()
        for record in stored {
            if let statement = try? InTotoStatement(payload: record.envelope.payloadBytes, source: "envelope"),
                let result = statement.testResult
            {
                results[record.digest.description] = result
            }
        }
        return results
    }
}
