import Foundation

/// How Fixity writes JSON, configured once: keys sorted (output is stable for scripts, diffs and
/// digests), `/` not escaped, and either compact (documents that are hashed or signed, one-line
/// records) or pretty-printed (what a person reads: `--json` output, evidence, proof bundles).
/// Signed and hashed documents get their exact bytes from here too, so two encoders can never
/// disagree about a digest.
public enum JSONStyle {
    case compact
    case pretty

    public func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        switch self {
        case .compact: encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        case .pretty: encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        }
        return encoder
    }

    /// The bytes of `value`. Traps only for a value that cannot be JSON (a non-finite number),
    /// which Fixity's own documents never hold.
    public func bytes<T: Encodable>(_ value: T) -> [UInt8] {
        [UInt8](try! encoder().encode(value))
    }
}
