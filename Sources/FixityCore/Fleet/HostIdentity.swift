/// What `fixity host enroll` leaves on a host and `fixity agent` runs on (docs/agent.md): the
/// host's Ed25519 key, who it is on which server, and the policy root keys it trusts — pinned by
/// the operator at enrollment, never taken from the server. One JSON file, mode 0600.
public struct HostIdentity: Sendable {
    public static let fileType = "fixity-host-identity"

    public let host: String
    public let env: String
    public let server: String
    public let key: SigningKey
    /// The policy root the host trusts until a policy signed by it names a successor.
    public let policyRoot: RootRole

    public init(host: String, env: String, server: String, key: SigningKey, policyRoot: RootRole) {
        self.host = host
        self.env = env
        self.server = server
        self.key = key
        self.policyRoot = policyRoot
    }

    private struct File: Codable {
        struct Root: Codable {
            let keys: [String]
            let threshold: Int
        }
        let type: String
        let version: Int
        let host: String
        let env: String
        let server: String
        let seed: String
        let publicKey: String
        let keyID: String
        let policyRoot: Root
        enum CodingKeys: String, CodingKey {
            case type, version, host, env, server, seed, publicKey = "public_key", keyID = "key_id"
            case policyRoot = "policy_root"
        }
    }

    public func fileBytes() -> [UInt8] {
        let file = File(
            type: Self.fileType, version: 1, host: host, env: env, server: server, seed: key.seedBase64,
            publicKey: key.publicKey.base64, keyID: key.id.hex,
            policyRoot: .init(keys: policyRoot.keys.map(\.policyText), threshold: policyRoot.threshold))
        return JSONStyle.pretty.bytes(file) + [10]
    }

    /// Parses an identity file's bytes; `name` is for the error.
    public init(fileBytes bytes: [UInt8], name: String) throws(TrustError) {
        guard let file = try? StrictJSON.decode(File.self, from: bytes) else {
            throw TrustError("\(name): not a Fixity host identity (truncated, not JSON, or a field missing)")
        }
        guard file.type == Self.fileType, file.version == 1 else {
            throw TrustError("\(name): not a Fixity host identity (type '\(file.type)', version \(file.version))")
        }
        let key = try SigningKey(seedBase64: file.seed, name: name)
        guard file.publicKey == key.publicKey.base64, file.keyID == key.id.hex else {
            throw TrustError("\(name): corrupt identity (its public key or id does not match the private key)")
        }
        var keys = [PublicKey]()
        for text in file.policyRoot.keys {
            do { keys.append(try PublicKey(policyText: text)) } catch {
                throw TrustError("\(name): policy_root key '\(text.prefix(60))': \(error.message)")
            }
        }
        do {
            policyRoot = try RootRole(keys: keys, threshold: file.policyRoot.threshold)
        } catch {
            throw TrustError("\(name): policy_root: \(error.message)")
        }
        guard HostName.isValid(file.host) else { throw TrustError("\(name): host name '\(file.host)' is not valid") }
        host = file.host
        env = file.env
        server = file.server
        self.key = key
    }
}

/// A host's name: what `env show` lists and rollouts order waves by.
public enum HostName {
    /// 1-64 characters of letters, digits, '.', '_', '-', starting with a letter or digit.
    public static func isValid(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first, isAlnum(first) else { return false }
        return name.utf8.allSatisfy {
            isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
