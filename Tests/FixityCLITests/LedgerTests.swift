import Foundation
import Testing

/// The ledger end to end: checkpoints, proofs, and tampering with the SQLite file directly.
@Suite struct LedgerTests {
    func ledger() throws -> Sandbox {
        let sandbox = try Sandbox()
        for n in 1...5 {
            try sandbox.sh("mkdir -p src && echo v\(n) > src/VERSION")
            _ = try sandbox.seal("src", app: "app", extra: ["--tag", "\(n)"])
        }
        #expect(try sandbox.fixity("key", "generate", "--out", "log.key").status == 0)
        #expect(try sandbox.fixity("log", "verify").status == 0)
        return sandbox
    }

    /// Runs SQL against the store's database as an attacker would, triggers dropped first.
    func tamper(_ sandbox: Sandbox, _ sql: String) throws {
        let script =
            "import sqlite3; c = sqlite3.connect('store/fixity.db'); [c.execute('DROP TRIGGER IF EXISTS ' + t) for (t,) in c.execute(\"SELECT name FROM sqlite_master WHERE type='trigger'\").fetchall()]; c.executescript(\"\"\"\(sql)\"\"\"); c.commit()"
        let result = try sandbox.sh("python3 -c \"$(cat <<'PY'\n\(script)\nPY\n)\"")
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func proofsVerifyWithNothingButTheDocumentedHashing() throws {
        let sandbox = try ledger()
        let proof = try sandbox.fixity("log", "prove", "3", "--json").json()
        #expect(try ProofCheck.verify(proof, in: sandbox))
    }

    @Test(arguments: [
        ("edit", "UPDATE history SET subject = 'sha256:' || substr(subject, 8, 63) || '0' WHERE seq = 4"),
        ("delete", "DELETE FROM history WHERE seq = 4"),
        (
            "swap",
            "UPDATE history SET action = CASE seq WHEN 3 THEN (SELECT action FROM history WHERE seq = 4) ELSE (SELECT action FROM history WHERE seq = 3) END WHERE seq IN (3, 4)"
        ),
        ("truncate", "DELETE FROM history WHERE seq >= 6; DELETE FROM ledger_nodes WHERE (idx + 1) * (1 << level) > 6"),
    ])
    func tamperingWithTheDatabaseIsCaught(_ attack: String, _ sql: String) throws {
        let sandbox = try ledger()
        let checkpoint = try sandbox.fixity("log", "checkpoint", "--key", "log.key")
        #expect(checkpoint.status == 0)
        try checkpoint.stdout.write(toFile: "\(sandbox.root)/held.cp", atomically: true, encoding: .utf8)
        try tamper(sandbox, sql)
        let result = try sandbox.fixity("log", "verify", "--checkpoint", "held.cp", "--json")
        #expect(result.status == 1, "\(attack) went unnoticed: \(result.stdout) \(result.stderr)")
    }

    @Test func checkpointsFromUnknownKeysAndMalformedOnesAreRefused() throws {
        let sandbox = try ledger()
        #expect(try sandbox.fixity("key", "generate", "--out", "other.key").status == 0)
        try sandbox.sh("echo garbage > bad.cp")
        let bad = try sandbox.fixity("log", "verify", "--checkpoint", "bad.cp")
        #expect(bad.status == 2 && bad.stderr.contains("bad.cp"))
        // A checkpoint signed by a key this other store has never seen is refused, naming the key.
        try sandbox.fixity("log", "checkpoint", "--key", "other.key").stdout.write(
            toFile: "\(sandbox.root)/other.cp", atomically: true, encoding: .utf8)
        let otherStore = try sandbox.fixity(
            ["log", "verify", "--checkpoint", "other.cp"], store: "\(sandbox.root)/other-store")
        #expect(otherStore.status == 2 && otherStore.stderr.contains("unknown key"), "\(otherStore.stderr)")
    }
}
