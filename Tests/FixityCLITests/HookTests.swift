import Foundation
import Testing

/// How hooks are run and waited on, and which deployment's hooks run at each switch (issue 14,
/// "Deploy hooks and rollback").
@Suite struct HookTests {
    func current(_ sandbox: Sandbox) throws -> String {
        try sandbox.sh("cat root/current/VERSION").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A free loopback port, chosen by the kernel.
    static func freePort() throws -> Int {
        let result = try Sandbox.shell(
            "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
        return try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// A real daemon started from on_activate keeps running after the hook returns; the deploy
    /// neither hangs on it nor counts it against the timeout, and the health check reaches it.
    @Test func aDaemonStartedByTheHookDoesNotHoldTheDeploy() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        let port = try Self.freePort()
        defer { _ = try? Sandbox.shell("pkill -f 'http.server \(port)'") }
        let result = try sandbox.fixity(
            "deploy", "app@1", "--root", "root", "--health-timeout", "20", "--json",
            "--on-activate", "python3 -m http.server \(port) --bind 127.0.0.1 & echo started",
            "--health-cmd",
            "for i in $(seq 100); do python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(\"http://127.0.0.1:\(port)/VERSION\").read().decode())' && exit 0; sleep 0.1; done; exit 1"
        )
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["result"] as? String == "activated")
        let health = try #require(json["health"] as? [String: Any])
        #expect(health["passed"] as? Bool == true)
        #expect((health["output_tail"] as? String)?.contains("v1") == true)
        // The daemon outlived the deploy: it was never waited for, nor killed.
        #expect(try Sandbox.shell("pgrep -f '[h]ttp.server \(port)'").status == 0)
    }

    /// The reproduction: a detached sleeper outlives the 3 s timeout by far, yet the
    /// deploy succeeds because the hook itself returned at once.
    @Test func aDetachedChildOutlivingTheTimeoutIsNotATimeout() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        defer { _ = try? Sandbox.shell("pkill -f 'sleep 12.5'") }
        let result = try sandbox.fixity(
            "deploy", "app@1", "--root", "root", "--health-timeout", "3", "--json",
            "--on-activate", "setsid sleep 12.5 >/dev/null 2>&1 </dev/null & echo started")
        #expect(result.status == 0, "\(result.stderr)")
        let hook = try #require(try result.json()["on_activate"] as? [String: Any])
        #expect(hook["timed_out"] as? Bool == false)
        #expect((hook["output_tail"] as? String) == "started\n")
        #expect(try current(sandbox) == "v1")
    }

    /// A hook holds nothing of Fixity's open: only descriptors 0, 1 and 2.
    @Test func hooksGetOnlyTheThreeStandardDescriptors() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        let result = try sandbox.fixity(
            "deploy", "app@1", "--root", "root", "--json", "--health-cmd",
            "exec python3 -c 'import os; print(sorted(int(f) for f in os.listdir(\"/proc/self/fd\") if os.path.exists(\"/proc/self/fd/\" + f)))'"
        )
        #expect(result.status == 0, "\(result.stderr)")
        let health = try #require(try result.json()["health"] as? [String: Any])
        #expect(health["output_tail"] as? String == "[0, 1, 2]\n")
    }

    /// A hook's output file is private while it runs (a health check may print a secret): mode
    /// 0600, already unlinked from its 0700 folder, so no other user can open it by name.
    @Test func hookOutputIsPrivateWhileTheHookRuns() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        let result = try sandbox.fixity(
            "deploy", "app@1", "--root", "root", "--json",
            "--health-cmd", "stat -L -c '%a' /proc/$$/fd/1; readlink /proc/$$/fd/1 | grep -c ' (deleted)$'")
        #expect(result.status == 0, "\(result.stderr)")
        let health = try #require(try result.json()["health"] as? [String: Any])
        #expect(health["output_tail"] as? String == "600\n1\n")
    }

    /// FIXITY_ROOT is absolute even when --root is relative.
    @Test func fixityRootIsAbsolute() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        let result = try sandbox.fixity(
            "deploy", "app@1", "--root", "r5", "--health-cmd",
            "ls \"$FIXITY_ROOT/current\" >/dev/null && case \"$FIXITY_ROOT\" in /*) ;; *) exit 9;; esac")
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Every switch runs the hooks of the deployment switched to, with its own ids: a deploy,
    /// the automatic rollback after a failed check, `rollback`, and `rollback --to`.
    @Test func everySwitchRunsTheHooksOfItsTargetWithItsIds() throws {
        let sandbox = try Sandbox()
        let ids = try DeployTests.releases(sandbox, 2)
        let log = "\(sandbox.root)/hooks.log"
        let hook = "echo \"$FIXITY_RELEASE $FIXITY_DEPLOYMENT $(cat VERSION)\" >> '\(log)'"
        func deploy(_ ref: String, _ extra: [String] = []) throws -> (RunResult, String?) {
            let result = try sandbox.fixity(["deploy", ref, "--root", "root", "--on-activate", hook, "--json"] + extra)
            return (result, try? result.json()["deployment"] as? String)
        }
        func lines() throws -> [String] {
            try sandbox.sh("cat '\(log)'").stdout.split(separator: "\n").map(String.init)
        }

        let (first, d1) = try deploy("app@1")
        #expect(first.status == 0, "\(first.stderr)")
        let (failed, d2) = try deploy("app@2", ["--health-cmd", "exit 3"])
        #expect(failed.status == 1)
        let d1id = try #require(d1), d2id = try #require(d2)
        // The failed one's hook in its own tree, then the restored one's hook with ITS ids.
        #expect(try lines() == ["\(ids[0]) \(d1id) v1", "\(ids[1]) \(d2id) v2", "\(ids[0]) \(d1id) v1"])

        let (forced, _) = try deploy("app@2", ["--force", "--health-cmd", "true"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let back = try sandbox.fixity("rollback", "--root", "root")
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try lines().suffix(2) == ["\(ids[1]) \(d2id) v2", "\(ids[0]) \(d1id) v1"])
        let to = try sandbox.fixity("rollback", "--root", "root", "--to", "app@2")
        #expect(to.status == 0, "\(to.stderr)")
        #expect(try lines().last == "\(ids[1]) \(d2id) v2")
        #expect(try current(sandbox) == "v2")
    }

    /// A rollback whose target now fails its own health check is undone: what was live before
    /// comes back and the target is known-bad.
    @Test func aRollbackWhoseTargetFailsItsCheckIsUndone() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        let flag = "\(sandbox.root)/v1-broken"
        #expect(
            try sandbox.fixity("deploy", "app@1", "--root", "root", "--health-cmd", "test ! -e '\(flag)'").status == 0)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root").status == 0)
        try sandbox.sh("touch '\(flag)'")
        let back = try sandbox.fixity("rollback", "--root", "root", "--json")
        #expect(back.status == 1, "\(back.stderr)")
        #expect(try back.json()["result"] as? String == "rolled_back")
        #expect(try current(sandbox) == "v2")
        let status = try sandbox.fixity("status", "--root", "root", "--json").json()
        let deployments = try #require(status["deployments"] as? [[String: Any]])
        #expect(deployments.first?["health"] as? String == "known-bad")
    }

    /// `rollback --to` a known-bad deployment needs --force.
    @Test func rollbackToAKnownBadDeploymentNeedsForce() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        let flag = "\(sandbox.root)/v2-broken"
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        try sandbox.sh("touch '\(flag)'")
        #expect(
            try sandbox.fixity("deploy", "app@2", "--root", "root", "--health-cmd", "test ! -e '\(flag)'").status == 1)
        let refused = try sandbox.fixity("rollback", "--root", "root", "--to", "app@2")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("known-bad") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try current(sandbox) == "v1")
        // Forced, it runs its own (recorded) health check again, which now passes.
        try sandbox.sh("rm '\(flag)'")
        let forced = try sandbox.fixity("rollback", "--root", "root", "--to", "app@2", "--force")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try current(sandbox) == "v2")
    }

    /// Starts `fixity deploy` in the background with a health check that waits, and returns
    /// once the check is running.
    func deployWaitingInItsCheck(_ sandbox: Sandbox, _ ref: String, sleeper: String) throws -> Process {
        let started = "\(sandbox.root)/started"
        try? FileManager.default.removeItem(atPath: started)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.binary)
        process.arguments = [
            "deploy", ref, "--root", "root", "--store", sandbox.store, "--health-timeout", "60", "--health-cmd",
            "touch '\(started)'; \(sleeper)",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: started) { usleep(20_000) }
        try #require(FileManager.default.fileExists(atPath: started), "the health check never started")
        return process
    }

    /// A deploy killed (SIGKILL) mid-check leaves its deployment active but pending: status says
    /// so with a hint, and the next deploy of it runs the check instead of "nothing to do".
    @Test func aPendingActiveDeploymentIsCheckedOnTheNextDeploy() throws {
        let sleeper = "sleep 50.1"
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let process = try deployWaitingInItsCheck(sandbox, "app@2", sleeper: sleeper)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = try? Sandbox.shell("pkill -f '\(sleeper)'")
        #expect(try current(sandbox) == "v2")
        let status = try sandbox.fixity("status", "--root", "root")
        #expect(status.stdout.contains("health pending") && status.stdout.contains("hint:"), "\(status.stdout)")

        let checked = try sandbox.fixity("deploy", "app@2", "--root", "root", "--health-cmd", "exit 4", "--json")
        #expect(checked.status == 1, "\(checked.stderr)")
        #expect(try checked.json()["result"] as? String == "rolled_back")
        #expect(try current(sandbox) == "v1")
    }

    /// SIGTERM during the health check: the check is killed, the previous known-good deployment
    /// is live again, the new one stays pending (not known-bad), and the exit code is 2.
    @Test func sigtermDuringTheCheckRestoresThePreviousDeployment() throws {
        let sleeper = "sleep 50.2"
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let process = try deployWaitingInItsCheck(sandbox, "app@2", sleeper: sleeper)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(try current(sandbox) == "v1")
        #expect(
            try Sandbox.shell("pgrep -f '[s]\(sleeper.dropFirst())'").status != 0, "the health check was left running")
        let status = try sandbox.fixity("status", "--root", "root", "--json").json()
        let deployments = try #require(status["deployments"] as? [[String: Any]])
        #expect(deployments.last?["health"] as? String == "pending")
        #expect(try sandbox.fixity("verify", "--root", "root").status == 0)
        #expect(try sandbox.fixity("log", "verify").status == 0)
    }
}
