import Dispatch
import FixityCore
import FixityLedger
import Foundation
import Synchronization

/// What every `LedgerLog` implementation must do, checked against an empty log. Each check
/// throws a `ConformanceFailure` naming what broke; an implementation's test calls `run` with:
/// - `open`: a new handle on the same log (as a second process or replica would open it);
/// - `tamper`: edits the stored entry `seq` behind the log's back (the test knows how: SQL for
///   SQLite), so the suite can check that `verify` finds it.
/// The Merkle answers are compared with `Merkle`'s own in-memory computation over the same
/// leaves, which `MerkleTests` pins to RFC 6962's test vectors.
package enum LedgerConformance {
    package struct ConformanceFailure: Error, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }

    /// The names of the checks, in the order `run` performs them.
    package static let checks = [
        "empty log", "append order", "roots", "inclusion proofs", "consistency proofs", "refusals",
        "checkpoints", "concurrent appends", "tamper detection",
    ]

    /// Runs every check in order; returns the names of those that passed (all of `checks`, or it
    /// throws at the first that fails).
    @discardableResult
    package static func run(
        open: @escaping @Sendable () throws -> any LedgerLog, tamper: (Int64) throws -> Void,
        clock: any WallClock = SystemClock()
    ) throws -> [String] {
        let log = try open()
        var passed = [String]()
        try emptyLog(log)
        passed.append("empty log")
        let appended = try appendOrder(log, clock: clock)
        passed.append("append order")
        let leaves = appended.map(\.leafHash)
        try roots(log, leaves: leaves)
        passed.append("roots")
        try inclusionProofs(log, leaves: leaves)
        passed.append("inclusion proofs")
        try consistencyProofs(log, leaves: leaves)
        passed.append("consistency proofs")
        try refusals(log, size: leaves.count)
        passed.append("refusals")
        try checkpoints(log, leaves: leaves, clock: clock)
        passed.append("checkpoints")
        try concurrentAppends(open: open, clock: clock, before: leaves.count)
        passed.append("concurrent appends")
        try tamperDetection(log, tamper: tamper)
        passed.append("tamper detection")
        return passed
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(message()) }
    }

    static func emptyLog(_ log: any LedgerLog) throws {
        let size = try log.size()
        try expect(size == 0, "a new log has \(size) entries")
        try expect(try log.root(size: 0) == Merkle.emptyRoot, "the empty tree's root is not SHA-256 of nothing")
        try expect(try log.verify().ok, "an empty log does not verify")
    }

    /// 37 entries (not a power of two: every proof shape occurs), each given back as appended.
    static func appendOrder(_ log: any LedgerLog, clock: any WallClock) throws -> [LedgerEntry] {
        var appended = [LedgerEntry]()
        for n in 0..<37 {
            let entry = try log.append(
                action: n % 3 == 0 ? .seal : .tag, subject: "subject-\(n)",
                details: ["n": String(n), "quote": "a \"quoted\" \\ value\u{1}"], at: clock.now())
            try expect(entry.seq == Int64(n), "append \(n) got sequence number \(entry.seq)")
            try expect(
                entry.details["n"] == String(n) && entry.subject == "subject-\(n)", "append \(n) changed its entry")
            appended.append(entry)
        }
        let size = try log.size()
        try expect(size == 37, "37 appends made a log of \(size)")
        for entry in appended {
            let stored = try log.entry(seq: entry.seq)
            try expect(stored == entry, "entry \(entry.seq) reads back as \(String(describing: stored))")
        }
        try expect(try log.entry(seq: 37) == nil, "an entry past the end exists")
        // By action: exactly the entries with those actions, in sequence order.
        let seals = try log.entries(actions: [.seal])
        try expect(
            seals == appended.filter { $0.action == LedgerAction.seal.rawValue }, "entries(actions: seal) differ")
        try expect(try log.entries(actions: [.seal, .tag]) == appended, "entries(actions: seal, tag) differ")
        try expect(try log.entries(actions: [.promote]).isEmpty, "entries of an action never appended exist")
        return appended
    }

    static func roots(_ log: any LedgerLog, leaves: [Merkle.Hash]) throws {
        for size in 0...leaves.count {
            let expected = Merkle.root(of: leaves[0..<size])
            try expect(try log.root(size: size) == expected, "the root at size \(size) is not RFC 6962's MTH")
        }
    }

    static func inclusionProofs(_ log: any LedgerLog, leaves: [Merkle.Hash]) throws {
        for size in 1...leaves.count {
            let root = Merkle.root(of: leaves[0..<size])
            for index in 0..<size {
                let proof = try log.inclusionProof(seq: Int64(index), size: size)
                try expect(
                    Merkle.verifyInclusion(leaf: leaves[index], index: index, size: size, proof: proof, root: root),
                    "the inclusion proof of entry \(index) in \(size) does not verify")
            }
        }
        // The self-contained document (docs/ledger.md) says the same, for a past tree and for now.
        for (index, size) in [(0, 1), (leaves.count / 2, leaves.count), (leaves.count - 1, nil)] {
            let document = try log.inclusionProofDocument(seq: Int64(index), size: size)
            let treeSize = size ?? leaves.count
            try expect(
                document.leafIndex == index && document.treeSize == treeSize
                    && document.leafHash == Hex.encode(leaves[index])
                    && document.rootHash == Hex.encode(Merkle.root(of: leaves[0..<treeSize]))
                    && document.auditPath
                        == (try log.inclusionProof(seq: Int64(index), size: treeSize)).map(Hex.encode),
                "the inclusion proof document of entry \(index) in \(treeSize) is not the log's proof")
            let entry = Base64.decode(document.entry).map(Merkle.leafHash)
            try expect(entry == leaves[index], "the proof document of entry \(index) carries another entry")
        }
    }

    /// A checkpoint signs the log's size and root as they are now, verifies with the key that
    /// signed it, and the key is remembered.
    static func checkpoints(_ log: any LedgerLog, leaves: [Merkle.Hash], clock: any WallClock) throws {
        let key = SigningKey.generate()
        let note = try log.signCheckpoint(key: key, at: clock.now())
        let (checkpoint, text, signatures) = try Checkpoint.parse(note, source: "conformance")
        try expect(
            checkpoint.size == leaves.count && checkpoint.root == Merkle.root(of: leaves[...]),
            "the checkpoint does not sign the log's size and root")
        try expect(
            Checkpoint.verifiedBy(text: text, signatures: signatures, keys: [key.publicKey]) == [key.publicKey.id],
            "the checkpoint does not verify with the key that signed it")
        try expect(
            try log.checkpointKeys().contains { $0.id == key.publicKey.id }, "the checkpoint's key is not remembered")
    }

    static func consistencyProofs(_ log: any LedgerLog, leaves: [Merkle.Hash]) throws {
        for newSize in 1...leaves.count {
            for oldSize in 1...newSize {
                let proof = try log.consistencyProof(from: oldSize, to: newSize)
                try expect(
                    Merkle.verifyConsistency(
                        oldSize: oldSize, newSize: newSize, oldRoot: Merkle.root(of: leaves[0..<oldSize]),
                        newRoot: Merkle.root(of: leaves[0..<newSize]), proof: proof),
                    "the consistency proof from \(oldSize) to \(newSize) does not verify")
            }
        }
    }

    /// Questions about trees the log does not have are refused, not answered.
    static func refusals(_ log: any LedgerLog, size: Int) throws {
        try expect((try? log.root(size: size + 1)) == nil, "a root past the end was given")
        try expect(
            (try? log.inclusionProof(seq: Int64(size), size: size)) == nil, "a proof of a missing entry was given")
        try expect((try? log.consistencyProof(from: size, to: size + 5)) == nil, "a proof to a future size was given")
        try expect(
            (try? log.consistencyProof(from: 3, to: 2)) == nil, "a proof from a larger to a smaller tree was given")
    }

    /// Four handles append 25 entries each at once: 100 new entries with dense sequence
    /// numbers, each appended entry stored exactly once, and a tree that verifies.
    static func concurrentAppends(
        open: @escaping @Sendable () throws -> any LedgerLog, clock: any WallClock, before: Int
    )
        throws
    {
        let writers = 4
        let each = 25
        let seqs = Mutex([Int64]())
        let failure = Mutex<String?>(nil)
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            do {
                let handle = try open()
                for n in 0..<each {
                    let entry = try handle.append(
                        action: .bench, subject: "writer-\(writer)", details: ["n": String(n)], at: clock.now())
                    seqs.withLock { $0.append(entry.seq) }
                }
            } catch {
                failure.withLock { $0 = $0 ?? "writer \(writer): \(error)" }
            }
        }
        if let failure = failure.withLock({ $0 }) { throw ConformanceFailure("a concurrent append failed: \(failure)") }
        let got = seqs.withLock { $0.sorted() }
        let expected = (before..<(before + writers * each)).map(Int64.init)
        try expect(got == expected, "concurrent appends were given sequence numbers \(got.first ?? -1)…, not dense")
        let log = try open()
        let total = try log.size()
        try expect(total == before + writers * each, "the log has \(total) entries after the appends")
        let verification = try log.verify()
        try expect(verification.ok, "the log does not verify after concurrent appends: \(verification.problems)")
        var leaves = [Merkle.Hash]()
        for seq in 0..<Int64(before + writers * each) {
            guard let entry = try log.entry(seq: seq) else { throw ConformanceFailure("entry \(seq) is missing") }
            leaves.append(entry.leafHash)
        }
        try expect(try log.root(size: leaves.count) == Merkle.root(of: leaves[...]), "the tree forked")
    }

    static func tamperDetection(_ log: any LedgerLog, tamper: (Int64) throws -> Void) throws {
        try expect(try log.verify().ok, "the log does not verify before tampering")
        try tamper(5)
        let verification = try log.verify()
        try expect(!verification.ok, "an entry edited behind the log's back was not found")
        try expect(
            verification.firstBadSeq == 5,
            "the edit of entry 5 was reported at \(String(describing: verification.firstBadSeq))")
    }
}
