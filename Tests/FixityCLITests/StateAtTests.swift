import Foundation
import Testing

/// `state --at`: what was live on a root at an instant, across deploys, an automatic rollback,
/// a hot-fix, its repair and a manual rollback — answered from the ledger with proofs.
@Suite struct StateAtTests {
    /// A time between two steps: ledger times have nanoseconds, so a short pause separates them.
    func instant(_ sandbox: Sandbox) throws -> String {
        usleep(20_000)
        let time = try sandbox.sh("date -u +%Y-%m-%dT%H:%M:%S.%NZ").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        usleep(20_000)
        return time
    }

    func state(_ sandbox: Sandbox, _ time: String, _ scope: [String] = ["--root", "root"]) throws -> [String: Any] {
        let result = try sandbox.fixity(["state", "--at", time, "--json"] + scope)
        try #require(result.status == 0, "state --at \(time): \(result.stderr)")
        return try result.json()
    }

    func active(_ answer: [String: Any]) -> [String: Any]? { answer["active"] as? [String: Any] }

    @Test func answersAcrossDeploysRollbacksAndRepairs() throws {
        let sandbox = try Sandbox()
        var releases = [String]()
        for n in 1...3 {
            try sandbox.sh("mkdir -p src\(n) && echo v\(n) > src\(n)/VERSION")
            releases.append(try sandbox.seal("src\(n)", app: "web", extra: ["--tag", "\(n)"]))
        }
        let beforeAnyDeploy = try instant(sandbox)
        #expect(try sandbox.fixity("deploy", "web@1", "--root", "root", "--env", "prod").status == 0)
        let v1Live = try instant(sandbox)
        // v2 fails its health check: live for a moment, then the automatic rollback to v1.
        #expect(
            try sandbox.fixity("deploy", "web@2", "--root", "root", "--env", "prod", "--health-cmd", "false").status
                == 1)
        let backOnV1 = try instant(sandbox)
        #expect(try sandbox.fixity("deploy", "web@3", "--root", "root", "--env", "prod").status == 0)
        let v3Clean = try instant(sandbox)
        try sandbox.sh("chmod u+w root/current/VERSION && echo hotfix >> root/current/VERSION")
        #expect(try sandbox.fixity("verify", "--root", "root").status == 1)
        let v3Drifted = try instant(sandbox)
        #expect(try sandbox.fixity("repair", "--root", "root").status == 0)
        let v3Repaired = try instant(sandbox)
        #expect(try sandbox.fixity("rollback", "--root", "root").status == 0)
        let afterRollback = try instant(sandbox)

        // Before the root's first entry: refused, naming the root.
        let early = try sandbox.fixity("state", "--at", beforeAnyDeploy, "--root", "root")
        #expect(
            early.status == 2 && early.stderr.contains("before the first ledger entry about root"), "\(early.stderr)")

        let first = try #require(active(try state(sandbox, v1Live)))
        #expect(first["release"] as? String == releases[0])
        #expect(first["tags"] as? [String] == ["web@1"])
        #expect(first["env"] as? String == "prod")
        #expect(first["health"] as? String == "known-good")
        #expect(first["until"] is String, "v1 was replaced by the v2 attempt")

        // The instant v2 was switched to: it was live, known-bad, until the automatic rollback.
        let log = try sandbox.fixity("log", "--json").json()["entries"] as? [[String: Any]] ?? []
        let v2Activation = try #require(
            log.first {
                $0["action"] as? String == "activate" && ($0["details"] as? [String: String])?["release"] == releases[1]
            })
        let v2 = try #require(active(try state(sandbox, v2Activation["time"] as! String)))
        #expect(v2["release"] as? String == releases[1])
        let rollback = try #require(log.first { $0["action"] as? String == "rollback" })
        #expect(v2["until"] as? String == rollback["time"] as? String)

        let back = try #require(active(try state(sandbox, backOnV1)))
        #expect(back["release"] as? String == releases[0] && back["since"] as? String == rollback["time"] as? String)

        let clean = try #require(active(try state(sandbox, v3Clean)))
        #expect(clean["release"] as? String == releases[2] && clean["drift"] as? String == "unverified")
        let drifted = try #require(active(try state(sandbox, v3Drifted)))
        #expect(drifted["drift"] as? String == "drifted" && drifted["drift_state"] is String)
        let repaired = try #require(active(try state(sandbox, v3Repaired)))
        #expect(repaired["drift"] as? String == "clean" && repaired["repaired_at"] is String)

        // The manual rollback goes to the newest known-good older deployment: v1 (v2 is known-bad).
        let now = try state(sandbox, afterRollback)
        #expect(active(now)?["release"] as? String == releases[0] && active(now)?["until"] == nil)
        // Without a checkpoint the proofs are against the unsigned head, and it says so.
        #expect(now["checkpoint"] == nil || now["checkpoint"] is NSNull)
        #expect((now["warnings"] as? [String])?.first?.contains("log checkpoint") == true)

        // With one, every entry of the answer is proved to its root by an independent checker.
        #expect(try sandbox.fixity("key", "generate", "--out", "log.key").status == 0)
        #expect(try sandbox.fixity("log", "checkpoint", "--key", "log.key").status == 0)
        for time in [v1Live, backOnV1, v3Drifted, afterRollback] {
            let answer = try state(sandbox, time)
            let checkpoint = try #require(answer["checkpoint"] as? [String: Any])
            let proofs = (answer["proof"] as? [[String: Any]] ?? []).compactMap { $0["inclusion"] }
            #expect(proofs.count >= 2)
            #expect(
                try ProofCheck.verify(proofs, root: checkpoint["root"] as? String, in: sandbox), "proofs at \(time)")
        }

        // By environment: the same answer.
        #expect(active(try state(sandbox, v3Repaired, ["--env", "prod"]))?["release"] as? String == releases[2])
        let unknownEnv = try sandbox.fixity("state", "--at", afterRollback, "--env", "staging")
        #expect(unknownEnv.status == 2 && unknownEnv.stderr.contains("staging"))
    }

    @Test(arguments: [
        (["--at", "2001-01-01T00:00:00Z", "--root", "root"], "before the first ledger entry"),
        (["--at", "yesterday", "--root", "root"], "not an RFC 3339 time"),
        (["--at", "2999-01-01T00:00:00Z", "--root", "elsewhere"], "no ledger entry names root"),
    ])
    func badQueriesAreRefused(_ args: [String], _ message: String) throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        _ = try sandbox.seal("src", app: "web", extra: ["--tag", "1"])
        #expect(try sandbox.fixity("deploy", "web@1", "--root", "root").status == 0)
        let result = try sandbox.fixity(["state"] + args)
        #expect(result.status == 2 && result.stderr.contains(message), "\(result.stderr)")
    }
}
