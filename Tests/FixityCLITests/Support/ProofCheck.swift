import Foundation
import Testing

/// An inclusion-proof checker written from docs/ledger.md alone, in Python, so a proof Fixity
/// prints is checked by code that shares nothing with Fixity's own verifier.
enum ProofCheck {
    static let script = """
        import base64, hashlib, json, sys
        def check(p, root=None):
            leaf = hashlib.sha256(b"\\x00" + base64.b64decode(p["entry"])).hexdigest()
            assert leaf == p["leaf_hash"], "leaf hash"
            fn, sn, r = p["leaf_index"], p["tree_size"] - 1, bytes.fromhex(leaf)
            for h in map(bytes.fromhex, p["audit_path"]):
                if fn & 1 or fn == sn:
                    r = hashlib.sha256(b"\\x01" + h + r).digest()
                    while fn & 1 == 0 and fn: fn >>= 1; sn >>= 1
                else:
                    r = hashlib.sha256(b"\\x01" + r + h).digest()
                fn >>= 1; sn >>= 1
            assert sn == 0 and r.hex() == p["root_hash"], "bad proof"
            assert root is None or r.hex() == root, "not the expected root"
        doc = json.load(sys.stdin)
        proofs = doc if isinstance(doc, list) else [doc]
        for p in proofs: check(p, sys.argv[1] if len(sys.argv) > 1 else None)
        print("ok", len(proofs))
        """

    /// Checks one proof object, or a list of them, optionally all against `root` (hex).
    static func verify(_ proofs: Any, root: String? = nil, in sandbox: Sandbox) throws -> Bool {
        let name = "proof-\(UUID().uuidString)"
        try JSONSerialization.data(withJSONObject: proofs).write(
            to: URL(fileURLWithPath: "\(sandbox.root)/\(name).json"))
        try script.write(toFile: "\(sandbox.root)/\(name).py", atomically: true, encoding: .utf8)
        let result = try Sandbox.run(
            "/bin/sh", ["-c", "python3 \(name).py \(root ?? "") < \(name).json"], in: sandbox.root)
        return result.status == 0 && result.stdout.hasPrefix("ok ")
    }
}
