import FixityCore
import Testing

@Suite struct MerkleTests {
    static let inputs: [[UInt8]] = [
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
    ].map { Hex.decode($0)! }
    static let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    let leaves = MerkleTests.inputs.map(Merkle.leafHash)

    @Test func rootsMatchTheRFC6962ReferenceVectors() throws {
        #expect(Hex.encode(Merkle.emptyRoot) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let prover = MerkleProver(source: InMemoryMerkleNodes(leaves: leaves))
        for size in 1...8 { #expect(Hex.encode(try prover.root(size: size)) == Self.roots[size - 1], "size \(size)") }
    }

    @Test func proofsMatchTheReferenceVectors() throws {
        let prover = MerkleProver(source: InMemoryMerkleNodes(leaves: leaves))
        #expect(
            try prover.inclusionProof(index: 0, size: 8).map(Hex.encode) == [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ])
        #expect(
            try prover.inclusionProof(index: 5, size: 8).map(Hex.encode) == [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ])
        #expect(
            try prover.consistencyProof(oldSize: 2, newSize: 8).map(Hex.encode) == [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ])
        #expect(
            try prover.consistencyProof(oldSize: 6, newSize: 8).map(Hex.encode) == [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ])
    }

    @Test func everyProofVerifiesAndAnyFlippedBitFails() throws {
        let many = (0..<130).map { Merkle.leafHash(Array("entry \($0)".utf8)) }
        let prover = MerkleProver(source: InMemoryMerkleNodes(leaves: many))
        let roots = try (0...many.count).map { try prover.root(size: $0) }
        for size in 1...many.count {
            for index in stride(from: 0, to: size, by: max(1, size / 9)) {
                let proof = try prover.inclusionProof(index: index, size: size)
                #expect(
                    Merkle.verifyInclusion(leaf: many[index], index: index, size: size, proof: proof, root: roots[size])
                )
                for (at, hash) in proof.enumerated() {
                    var bad = proof
                    var flipped = hash
                    flipped[at % 32] ^= 1 << (at % 8)
                    bad[at] = flipped
                    #expect(
                        !Merkle.verifyInclusion(
                            leaf: many[index], index: index, size: size, proof: bad, root: roots[size]))
                }
                if !proof.isEmpty {
                    #expect(
                        !Merkle.verifyInclusion(
                            leaf: many[index], index: index, size: size, proof: Array(proof.dropLast()),
                            root: roots[size]))
                }
            }
            for old in stride(from: 0, through: size, by: max(1, size / 7)) {
                let proof = try prover.consistencyProof(oldSize: old, newSize: size)
                #expect(
                    Merkle.verifyConsistency(
                        oldSize: old, newSize: size, oldRoot: roots[old], newRoot: roots[size], proof: proof),
                    "\(old)->\(size)")
                for at in proof.indices {
                    var bad = proof
                    bad[at][0] ^= 0x80
                    #expect(
                        !Merkle.verifyConsistency(
                            oldSize: old, newSize: size, oldRoot: roots[old], newRoot: roots[size], proof: bad))
                }
            }
        }
    }

    @Test func signedCheckpointRoundTripsAndRefusesOtherKeys() throws {
        let key = SigningKey.generate()
        let note = Checkpoint(origin: "fixity.dev/ledger/test", size: 8, root: Hex.decode(Self.roots[7])!).signed(
            by: key)
        let (parsed, text, signatures) = try Checkpoint.parse(note, source: "cp")
        #expect(parsed.size == 8 && Hex.encode(parsed.root) == Self.roots[7])
        #expect(Checkpoint.verifiedBy(text: text, signatures: signatures, keys: [key.publicKey]) == [key.id])
        #expect(
            Checkpoint.verifiedBy(text: text, signatures: signatures, keys: [SigningKey.generate().publicKey]).isEmpty)
        let forged = note.replacingOccurrences(of: "\n8\n", with: "\n9\n")
        let (_, forgedText, forgedSignatures) = try Checkpoint.parse(forged, source: "forged")
        #expect(Checkpoint.verifiedBy(text: forgedText, signatures: forgedSignatures, keys: [key.publicKey]).isEmpty)
        #expect(throws: TrustError.self) { try Checkpoint.parse("garbage", source: "g") }
    }

    /// The frontier a streaming verifier keeps gives the same roots as the whole-tree math, and
    /// names every perfect subtree exactly when its last leaf arrives.
    @Test func theFrontierRebuildsEveryRootAndSubtree() throws {
        let leaves = (0..<41).map { Merkle.leafHash(Array("leaf \($0)".utf8)) }
        var frontier = MerkleFrontier()
        #expect(frontier.root == Merkle.emptyRoot)
        let nodes = InMemoryMerkleNodes(leaves: leaves)
        for (index, leaf) in leaves.enumerated() {
            for subtree in frontier.add(leaf: leaf) {
                #expect(subtree.index << subtree.level + (1 << subtree.level) - 1 == index)
                #expect(try nodes.perfectSubtree(level: subtree.level, index: subtree.index) == subtree.hash)
            }
            #expect(frontier.root == Merkle.root(of: leaves[0...index]), "size \(index + 1)")
        }
        #expect(frontier.size == 41)
    }
}
