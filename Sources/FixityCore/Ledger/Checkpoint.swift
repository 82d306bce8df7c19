import Crypto

/// A signed statement of the ledger's size and root, in the signed-note "tlog checkpoint" text
/// form (C2SP tlog-checkpoint and signed-note):
///
///     <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key hash || signature)>\n
///
/// The signature is Ed25519 over the note text (the three lines, each ending in "\n"); the key
/// hash is the first 4 bytes of SHA-256(key name || "\n" || 0x01 || 32-byte public key). Fixity
/// names the key after the origin.
public struct Checkpoint: Sendable, Equatable {
    public let origin: String
    public let size: Int
    public let root: Merkle.Hash

    public init(origin: String, size: Int, root: Merkle.Hash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    public var text: String { "\(origin)\n\(size)\n\(Base64.encode(root))\n" }

    public static func keyHash(name: String, key: PublicKey) -> [UInt8] {
        Array(Digest.of(Array(name.utf8) + [10, 1] + key.raw).bytes.prefix(4))
    }

    /// The whole signed note.
    public func signed(by key: SigningKey) -> String {
        let signature = key.sign(Array(text.utf8))
        return text + "\n— \(origin) \(Base64.encode(Self.keyHash(name: origin, key: key.publicKey) + signature))\n"
    }

    /// One signature line of a note.
    public struct NoteSignature: Sendable {
        public let name: String
        public let keyHash: [UInt8]
        public let signature: [UInt8]
    }

    /// Parses a signed note strictly; signatures are checked by `verifiedBy`.
    public static func parse(_ note: String, source: String) throws(TrustError) -> (
        Checkpoint, text: String, signatures: [NoteSignature]
    ) {
        guard let split = note.range(of: "\n\n") else {
            throw TrustError("\(source): not a signed note (no blank line before the signatures)")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count >= 3, let size = Int(lines[1]), size >= 0, String(size) == lines[1],
            let root = Base64.decode(String(lines[2])), root.count == 32, !lines[0].isEmpty
        else {
            throw TrustError("\(source): not a tlog checkpoint (expected origin, tree size and base64 root hash lines)")
        }
        var signatures = [NoteSignature]()
        for line in note[split.upperBound...].split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "—", let blob = Base64.decode(String(parts[2])), blob.count == 68 else {
                throw TrustError("\(source): malformed signature line '\(line.prefix(40))'")
            }
            signatures.append(
                NoteSignature(
                    name: String(parts[1]), keyHash: Array(blob.prefix(4)), signature: Array(blob.dropFirst(4))))
        }
        guard !signatures.isEmpty else { throw TrustError("\(source): the checkpoint is not signed") }
        return (Checkpoint(origin: String(lines[0]), size: size, root: root), text, signatures)
    }

    /// The keys among `keys` whose signature on the note verifies.
    /// Signatures whose name and key hash match one of `keys` but that do not verify: a
    /// checkpoint altered after signing (or a forged one), as opposed to one by an unknown key.
    public static func badSignatures(text: String, signatures: [NoteSignature], keys: [PublicKey]) -> [KeyID] {
        var bad = [KeyID]()
        for signature in signatures {
            for key in keys
            where keyHash(name: signature.name, key: key) == signature.keyHash
                && !key.verifies(signature.signature, over: Array(text.utf8))
            {
                bad.append(key.id)
            }
        }
        return bad
    }

    public static func verifiedBy(text: String, signatures: [NoteSignature], keys: [PublicKey]) -> [KeyID] {
        var ids = [KeyID]()
        for signature in signatures {
            for key in keys
            where keyHash(name: signature.name, key: key) == signature.keyHash
                && key.verifies(signature.signature, over: Array(text.utf8))
            {
                ids.append(key.id)
            }
        }
        return ids
    }
}
