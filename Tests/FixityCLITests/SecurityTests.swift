import Foundation
import Testing

/// Attacks by someone who can write to a root or a live tree (issue 15): planted deployments,
/// shared folders, symlinks swapped in while repair works, terminal escapes in release text.
@Suite struct SecurityTests {
    /// Seals `count` releases whose fixity.toml runs `sh ./check.sh` as the health check.
    static func checkedReleases(_ sandbox: Sandbox, _ count: Int) throws -> [String] {
        try (1...count).map { n in
            try sandbox.sh(
                """
                mkdir -p chk\(n) && echo v\(n) > chk\(n)/VERSION && echo 'exit 0' > chk\(n)/check.sh \
                && printf '[deploy]\\nhealth_cmd = "sh ./check.sh"\\n' > chk\(n)/fixity.toml
                """)
            return try sandbox.seal("chk\(n)", app: "app", extra: ["--tag", "\(n)"])
        }
    }

    /// The deployment id `ref` gets (deployed once on a scratch root with the same store).
    static func deploymentID(_ sandbox: Sandbox, _ ref: String) throws -> String {
        let result = try sandbox.fixity("deploy", ref, "--root", "scratch-\(UUID().uuidString.prefix(8))", "--json")
        try #require(result.status == 0, "\(result.stderr)")
        let id = try #require(try result.json()["deployment"] as? String)
        return String(id.dropFirst("sha256:".count))
    }

    /// A folder planted at a deployment's predictable name, with its own health check, is never
    /// switched to nor run: the deploy re-materializes it from the store.
    @Test func aPlantedDeploymentIsReplacedNotTrusted() throws {
        let sandbox = try Sandbox()
        _ = try Self.checkedReleases(sandbox, 2)
        let hex = try Self.deploymentID(sandbox, "app@2")
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let pwned = "\(sandbox.root)/pwned"
        try sandbox.sh(
            """
            mkdir -p root/deployments/\(hex) && echo evil > root/deployments/\(hex)/VERSION \
            && echo 'touch \(pwned); exit 0' > root/deployments/\(hex)/check.sh && cp chk2/fixity.toml root/deployments/\(hex)/
            """)
        let result = try sandbox.fixity("deploy", "app@2", "--root", "root", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.json()["materialized"] as? Bool == true)
        #expect(!FileManager.default.fileExists(atPath: pwned), "the planted health check ran")
        #expect(try sandbox.sh("cat root/current/VERSION").stdout == "v2\n")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
    }

    /// Rollback to a materialized deployment whose files were changed while it was not active
    /// re-materializes it before anything of it runs.
    @Test func rollbackToATamperedDeploymentRematerializesIt() throws {
        let sandbox = try Sandbox()
        _ = try Self.checkedReleases(sandbox, 2)
        let one = try sandbox.fixity("deploy", "app@1", "--root", "root", "--json")
        let hex = String(try #require(try one.json()["deployment"] as? String).dropFirst("sha256:".count))
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root").status == 0)
        let pwned = "\(sandbox.root)/pwned"
        try sandbox.sh("echo 'touch \(pwned); exit 0' > root/deployments/\(hex)/check.sh")
        let back = try sandbox.fixity("rollback", "--root", "root", "--json")
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try back.json()["materialized"] as? Bool == true)
        #expect(!FileManager.default.fileExists(atPath: pwned), "the tampered health check ran")
        #expect(try sandbox.sh("cat root/current/check.sh").stdout == "exit 0\n")
    }

    /// StrictModes: a root, its deployments or .fixity folder, or a store writable by others
    /// is refused, naming it; --allow-shared-root takes a shared root in so many words.
    @Test func sharedRootsAndStoresAreRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        for folder in ["root", "root/deployments", "root/.fixity"] {
            try sandbox.sh("chmod o+w \(folder)")
            for args in [
                ["verify", "--root", "root"], ["status", "--root", "root"], ["rollback", "--root", "root"],
                ["deploy", "app@1", "--root", "root"],
            ] {
                let refused = try sandbox.fixity(args)
                #expect(refused.status == 2, "\(args) with \(folder) o+w")
                #expect(
                    refused.stderr.contains("\(folder)") && refused.stderr.contains("writable by every user")
                        && refused.stderr.contains("--allow-shared-root"), "\(refused.stderr)")
            }
            #expect(try sandbox.fixity("verify", "--root", "root", "--allow-shared-root").status == 0)
            try sandbox.sh("chmod o-w \(folder)")
        }
        try sandbox.sh("chmod g+w root")
        let group = try sandbox.fixity("verify", "--root", "root")
        #expect(group.status == 2 && group.stderr.contains("writable by group"), "\(group.stderr)")
        try sandbox.sh("chmod g-w root && chmod 0777 store")
        let store = try sandbox.fixity("releases")
        #expect(
            store.status == 2 && store.stderr.contains("store") && store.stderr.contains("writable by every user"),
            "\(store.stderr)")
    }

    /// A root or store owned by another user is refused (as root, so the test can chown).
    @Test(.enabled(if: Sandbox.isRoot, "needs root to chown")) func foldersOwnedByAnotherUserAreRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        try sandbox.sh("chown 65534 root/deployments")
        let root = try sandbox.fixity("status", "--root", "root")
        #expect(root.status == 2 && root.stderr.contains("owned by uid 65534"), "\(root.stderr)")
        try sandbox.sh("chown 0 root/deployments && mkdir theirs && chown 65534 theirs")
        let store = try sandbox.fixity(["releases"], store: "\(sandbox.root)/theirs")
        #expect(store.status == 2 && store.stderr.contains("owned by uid 65534"), "\(store.stderr)")
    }

    /// A swapper process replaces names in the live tree with symlinks to a folder outside, as
    /// fast as it can, while `repair` resets a mode, removes an added folder and keeps evidence
    /// of a modified file — 1,000 times. Nothing outside the root may change, and no evidence
    /// may hold the outside file's bytes.
    @Test func repairRacedBySymlinkSwapsNeverTouchesAnythingOutside() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p src/d && echo one > src/m && echo two > src/d/f && chmod 755 src/d")
        _ = try sandbox.seal("src", app: "app", extra: ["--tag", "1"])
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        try sandbox.sh(
            "mkdir victim && echo SECRET-BYTES > victim/secret && chmod 0600 victim/secret && chmod 0500 victim")
        let before = try sandbox.sh("stat -c '%n %a %s %Y' victim victim/secret; ls -a victim").stdout
        let swapper = """
            import os, sys
            live, victim, stop = sys.argv[1], sys.argv[2], sys.argv[3]
            def swap(name, target):
                tmp = name + '.swap'
                try:
                    os.symlink(target, tmp)
                    os.rename(tmp, name)
                except OSError:
                    pass
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            while not os.path.exists(stop):
                swap(live + '/m', victim + '/secret')
                swap(live + '/d/x', victim)
                swap(live + '/d', victim)
            """
        try swapper.write(toFile: "\(sandbox.root)/swapper.py", atomically: true, encoding: .utf8)
        let attempts = Int(ProcessInfo.processInfo.environment["FIXITY_RACE_ATTEMPTS"] ?? "") ?? 1000
        let live = try sandbox.sh("realpath root/current").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // The drift each attempt starts from, made without following any symlink the swapper put
        // in (the test runs as root: a plain `mkdir -p` would itself write into the victim), then
        // a repair; one Python process runs all attempts, so each costs one `fixity` process.
        let race = """
            import os, subprocess, sys
            live, fixity, store, attempts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
            N = os.O_NOFOLLOW
            def opendir(at, name):
                return os.open(name, os.O_RDONLY | os.O_DIRECTORY | N, dir_fd=at)
            def attempt(step):
                try:
                    step()
                except OSError:
                    pass
            def drift():
                top = os.open(live, os.O_RDONLY | os.O_DIRECTORY | N)
                def mode():
                    fd = os.open('m', os.O_RDONLY | N, dir_fd=top)
                    os.fchmod(fd, 0o600)
                    os.close(fd)
                attempt(mode)
                try:
                    d = opendir(top, 'd')
                except OSError:
                    attempt(lambda: os.unlink('d', dir_fd=top))
                    attempt(lambda: os.mkdir('d', 0o755, dir_fd=top))
                    try:
                        d = opendir(top, 'd')
                    except OSError:
                        return
                def added():
                    attempt(lambda: os.mkdir('x', dir_fd=d))
                    x = opendir(d, 'x')
                    attempt(lambda: os.mkdir('y', dir_fd=x))
                    y = opendir(x, 'y')
                    os.close(os.open('z', os.O_WRONLY | os.O_CREAT | N, 0o644, dir_fd=y))
                attempt(added)
                def modified():
                    fd = os.open('f', os.O_WRONLY | os.O_APPEND | N, dir_fd=d)
                    os.write(fd, b'drift\\n')
                    os.close(fd)
                attempt(modified)
            repaired = 0
            for _ in range(attempts):
                drift()
                run = subprocess.run([fixity, 'repair', '--root', 'root', '--store', store], capture_output=True, text=True)
                if 'repaired ' in run.stdout:
                    repaired += 1
            print(repaired)
            """
        try race.write(toFile: "\(sandbox.root)/race.py", atomically: true, encoding: .utf8)
        let loop = """
            python3 swapper.py '\(live)' '\(sandbox.root)/victim' '\(sandbox.root)/stop' & swapper=$!
            python3 race.py '\(live)' '\(Sandbox.binary)' '\(sandbox.store)' \(attempts)
            touch stop; wait $swapper
            """
        let result = try sandbox.sh(loop)
        let repaired = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(repaired > 0, "no repair succeeded at all under the race")
        let after = try sandbox.sh("stat -c '%n %a %s %Y' victim victim/secret; ls -a victim").stdout
        #expect(after == before, "outside the root changed:\n\(before)\n→\n\(after)")
        let leaked = try Sandbox.shell("grep -rl SECRET-BYTES '\(sandbox.store)/evidence' 2>/dev/null")
        #expect(leaked.stdout.isEmpty, "evidence holds the outside file: \(leaked.stdout)")
        // Once the swapper is gone, one more repair leaves the tree clean.
        try sandbox.sh("L='\(live)'; [ -L \"$L/d\" ] && rm -f \"$L/d\"; true")
        _ = try sandbox.fixity("repair", "--root", "root")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
        #expect(try sandbox.fixity("log", "verify").status == 0)
    }

    /// Release-controlled text reaches the terminal with its control characters escaped.
    @Test func escapeSequencesInHealthOutputAreShownEscaped() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let result = try sandbox.fixity(
            "deploy", "app@2", "--root", "root", "--health-cmd", "printf 'bad\\033]0;owned\\007\\033[2J\\r\\n'; exit 1")
        #expect(result.status == 1)
        let all = result.stdout + result.stderr
        #expect(
            !all.contains("\u{1B}") && !all.contains("\u{07}") && !all.contains("\r"),
            "raw control characters reached the terminal")
        #expect(all.contains("bad\\x1b]0;owned\\x07\\x1b[2J\\x0d"), "\(all)")
    }
}

/// Denial of service from a writable folder in the live tree (issue 15 item 8).
@Suite struct DriftDenialOfServiceTests {
    /// A 3 GB sparse file (nothing on disk) over a small file: verify says "modified" without
    /// hashing it, repair keeps its size and a note instead of 3 GB of evidence, and the real
    /// hot-fix beside it is repaired.
    @Test func aSparseGiantIsNotCopiedIntoEvidence() throws {
        let sandbox = try DriftTests().deployed()
        try sandbox.sh("truncate -s 3G root/current/var/state && echo hotfix >> root/current/lib/a.js")
        let verify = try sandbox.fixity("verify", "--root", "root", "--json")
        #expect(verify.status == 1)
        let report = try verify.json()
        #expect((report["modified"] as? [String])?.contains("var/state") == true)
        let repair = try sandbox.fixity("repair", "--root", "root", "--json")
        #expect(repair.status == 0, "\(repair.stderr)")
        let id = try #require(try repair.json()["evidence"] as? String)
        let evidence = try sandbox.fixity("evidence", id, "--json").json()
        let files = try #require(
            (evidence["files"] as? [[String: Any]])
                ?? ((evidence["record"] as? [String: Any])?["files"] as? [[String: Any]]))
        let giant = try #require(files.first { $0["path"] as? String == "var/state" })
        #expect((giant["note"] as? String)?.contains("sparse") == true, "\(giant)")
        #expect(giant["digest"] == nil || giant["digest"] is NSNull)
        let kept = try sandbox.sh("du -sk store/evidence | cut -f1").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect((Int(kept) ?? .max) < 1024, "evidence took \(kept) KiB")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
    }

    /// 1,500 nested folders: verify reports them (bounded descriptors), repair removes them and
    /// still repairs the hot-fix elsewhere.
    @Test func thousandsOfNestedFoldersAreReportedAndRemoved() throws {
        let sandbox = try DriftTests().deployed()
        let live = try sandbox.sh("realpath root/current").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try sandbox.sh(
            "python3 -c \"import os; os.chdir('\(live)/lib'); [(os.mkdir('n'), os.chdir('n')) for _ in range(1500)]\" && echo hotfix >> root/current/bin/run"
        )
        let verify = try sandbox.fixity("verify", "--root", "root", "--json")
        #expect(verify.status == 1, "\(verify.stderr)")
        let report = try verify.json()
        #expect((report["modified"] as? [String])?.contains("bin/run") == true)
        #expect((report["added"] as? [String])?.contains("lib/n") == true)
        let repair = try sandbox.fixity("repair", "--root", "root")
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
        #expect(try sandbox.sh("ls -A '\(live)/lib' | grep -c fixity-removing || true").stdout == "0\n")
    }
}

extension DriftDenialOfServiceTests {
    /// A folder filled past the listing cap is reported as one that cannot be read (its entries
    /// are not loaded), and the hot-fix elsewhere is still repaired; repair says what it left.
    @Test func aFolderTooWideToListIsReportedAndTheRestRepaired() throws {
        let sandbox = try DriftTests().deployed()
        try sandbox.sh(
            "mkdir root/current/var/flood && cd root/current/var/flood && seq 1 300 | xargs touch && cd - >/dev/null && echo hotfix >> root/current/bin/run"
        )
        let env = ["/usr/bin/env", "FIXITY_MAX_FOLDER_ENTRIES=200"]
        let verify = try sandbox.fixity(["verify", "--root", "root", "--json"], prefix: env)
        #expect(verify.status == 1, "\(verify.stderr)")
        let report = try verify.json()
        #expect((report["modified"] as? [String])?.contains("bin/run") == true)
        #expect((report["added"] as? [String])?.contains("var/flood") == true, "\(report)")
        #expect((report["added"] as? [String])?.contains("var/flood/1") != true, "a too-wide folder was listed")
        let repair = try sandbox.fixity(["repair", "--root", "root"], prefix: env)
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(try sandbox.fixity(["verify", "--root", "root", "--full"]).status == 0)
    }
}
