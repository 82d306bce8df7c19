import Foundation
import Testing

/// What an operator tripped over (issue 14): export modes, diff, tags, checkpoint keys, key files
/// in errors, `--json` errors, `--version`.
@Suite struct HardeningTests {
    @Test func exportTopFolderIsReadableByOthers() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("export", "app@1", "out").status == 0)
        #expect(try sandbox.sh("stat -c %a out").stdout == "755\n")
        // An existing empty folder keeps its own mode.
        try sandbox.sh("mkdir -m 0750 mine")
        #expect(try sandbox.fixity("export", "app@1", "mine").status == 0)
        #expect(try sandbox.sh("stat -c %a mine && cat mine/VERSION").stdout == "750\nv1\n")
    }

    @Test func diffReportsAModeChangeTogetherWithAContentChange() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir a b && echo one > a/f && echo two > b/f && chmod +x b/f")
        _ = try sandbox.seal("a", extra: ["--tag", "1"])
        _ = try sandbox.seal("b", extra: ["--tag", "2"])
        let json = try sandbox.fixity("diff", "app@1", "app@2", "--json").json()
        #expect(json["modified"] as? [String] == ["f"])
        #expect(json["mode_changed"] as? [String] == ["f"])
        let human = try sandbox.fixity("diff", "app@1", "app@2")
        #expect(
            human.stdout.contains("modified") && human.stdout.contains("mode_changed")
                && human.stdout.contains("0644 -> 0755"), "\(human.stdout)")
    }

    @Test func aTagUnderAnotherAppIsRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1, app: "doc")
        let refused = try sandbox.fixity("tag", "other@1", "doc@1")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("sealed as doc") && refused.stderr.contains("other"), "\(refused.stderr)")
        #expect(try sandbox.fixity("tag", "doc@stable", "doc@1").status == 0)
        #expect(try sandbox.fixity("releases", "--app", "doc").stdout.contains("doc@stable"))
    }

    /// `--json` failures print an error document on stdout (and the message on stderr).
    @Test func jsonErrorsAreDocuments() throws {
        let sandbox = try Sandbox()
        let result = try sandbox.fixity("show", "nope@1", "--json")
        #expect(result.status == 2)
        let error = try #require(try result.json()["error"] as? [String: Any])
        #expect(error["category"] as? String == "not_found")
        #expect((error["message"] as? String)?.contains("nope@1") == true)
        #expect(result.stderr.contains("no tag nope@1"))
        let usage = try sandbox.fixity("show", "nope@1")
        #expect(usage.stdout.isEmpty)
    }

    @Test func versionIsPrinted() throws {
        let result = try Sandbox.run(Sandbox.binary, ["--version"], in: "/")
        #expect(result.status == 0)
        #expect(result.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "\(result.stdout)")
    }

    /// `log verify --checkpoint F --key K` accepts K alone; a malformed key is exit 2; a flipped
    /// signature bit is a bad signature, not an unknown key.
    @Test func checkpointsAreCheckedAgainstTheGivenKeyOnly() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        for name in ["a", "b"] { #expect(try sandbox.fixity("key", "generate", "--out", "\(name).key").status == 0) }
        func publicKey(_ name: String) throws -> String {
            "ed25519:"
                + (try #require(
                    try sandbox.fixity("key", "public", "\(name).key", "--json").json()["public_key"] as? String))
        }
        // Both keys sign a checkpoint of this store, so both are "known" to it.
        let b = try sandbox.fixity("log", "checkpoint", "--key", "b.key")
        #expect(b.status == 0)
        let a = try sandbox.fixity("log", "checkpoint", "--key", "a.key")
        try a.stdout.write(toFile: "\(sandbox.root)/cp.txt", atomically: true, encoding: .utf8)

        #expect(try sandbox.fixity("log", "verify", "--checkpoint", "cp.txt", "--key", try publicKey("a")).status == 0)
        #expect(try sandbox.fixity("log", "verify", "--checkpoint", "cp.txt", "--key", "a.key").status == 0)
        let other = try sandbox.fixity("log", "verify", "--checkpoint", "cp.txt", "--key", try publicKey("b"))
        #expect(other.status == 2 && other.stderr.contains("unknown key"), "\(other.stderr)")
        let garbage = try sandbox.fixity("log", "verify", "--checkpoint", "cp.txt", "--key", "garbage")
        #expect(garbage.status == 2 && garbage.stderr.contains("--key garbage"), "\(garbage.stderr)")
        let malformed = try sandbox.fixity("log", "verify", "--checkpoint", "cp.txt", "--key", "ed25519:AAAA")
        #expect(malformed.status == 2, "\(malformed.stderr)")

        // Flip one bit of the signature (the last base64 character before the newline).
        var lines = a.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let signatureLine = try #require(lines.lastIndex { $0.hasPrefix("— ") })
        var chars = Array(lines[signatureLine])
        let index = chars.count - 3
        chars[index] = chars[index] == "A" ? "B" : "A"
        lines[signatureLine] = String(chars)
        try lines.joined(separator: "\n").write(toFile: "\(sandbox.root)/bad.txt", atomically: true, encoding: .utf8)
        let bad = try sandbox.fixity("log", "verify", "--checkpoint", "bad.txt", "--key", try publicKey("a"))
        #expect(bad.status == 2 && bad.stderr.contains("bad signature"), "\(bad.stderr)")
    }

    /// A private key file given where a public key is expected is used for its public part and
    /// never echoed.
    @Test func aPrivateKeyFileIsNeverEchoed() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("key", "generate", "--out", "alice.key").status == 0)
        #expect(try sandbox.fixity("prove", "app@1", "--out", "app.bundle", "--key", "alice.key").status == 0)
        let secret = try sandbox.sh("cat alice.key").stdout
        let result = try sandbox.fixity("verify-bundle", "app.bundle", "--key", "alice.key")
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        #expect(!result.stderr.contains("is not of the form"), "\(result.stderr)")
        try sandbox.sh("echo 'not a key at all, but maybe a secret' > junk.key")
        let junk = try sandbox.fixity("verify-bundle", "app.bundle", "--key", "junk.key")
        #expect(junk.status == 2 && !junk.stderr.contains("maybe a secret"), "\(junk.stderr)")
    }

    /// verify says what changed (old => new), one row per path; JSON observed carries it; the
    /// evidence of a repair lists removals and mode changes.
    @Test func verifyShowsWhatChanged() throws {
        let sandbox = try DriftTests().deployed()
        try sandbox.sh(
            "echo edit >> root/current/lib/a.js && chmod 755 root/current/lib/a.js && ln -sfn other.js root/current/lib/link && rm root/current/var/state && mkdir root/current/var/state && rm root/current/bin/run"
        )
        let human = try sandbox.fixity("verify", "--root", "root")
        #expect(human.status == 1)
        let lines = human.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.filter {
                $0.hasSuffix("0644 => 0755") && $0.contains("lib/a.js") && $0.contains("modified,mode_changed")
            }.count == 1, "\(human.stdout)")
        #expect(lines.contains { $0.contains("lib/link") && $0.contains("-> a.js => -> other.js") }, "\(human.stdout)")
        #expect(lines.contains { $0.contains("var/state") && $0.contains("file => directory") }, "\(human.stdout)")
        #expect(human.stderr.contains("4 paths"), "\(human.stderr)")
        let observed = try #require(
            try sandbox.fixity("verify", "--root", "root", "--json").json()["observed"] as? [String: [String: String]])
        #expect(
            observed["lib/a.js"]?["mode"] == "0755" && observed["lib/a.js"]?["was"] == "0644"
                && observed["lib/a.js"]?["digest"] != nil)
        #expect(observed["lib/link"]?["target"] == "other.js")
        #expect(observed["var/state"]?["type"] == "directory")
        let repair = try sandbox.fixity("repair", "--root", "root", "--json")
        let id = try #require(try repair.json()["evidence"] as? String)
        let evidence = try sandbox.fixity("evidence", id)
        #expect(evidence.stdout.contains("removed (restored by the repair): bin/run"), "\(evidence.stdout)")
        #expect(evidence.stdout.contains("mode changed (reset by the repair): lib/a.js"), "\(evidence.stdout)")
    }

    /// A failed test attestation reads FAILED wherever attestations are listed, and attest shows
    /// the test's output.
    @Test func failedAttestationsSayFailed() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("key", "generate", "--out", "ci.key").status == 0)
        let failed = try sandbox.fixity("attest", "app@1", "--run", "echo checking; exit 3", "--key", "ci.key")
        #expect(
            failed.status == 1 && failed.stdout.contains("FAILED") && failed.stderr.contains("checking"),
            "\(failed.stdout) \(failed.stderr)")
        let passed = try sandbox.fixity("attest", "app@1", "--run", "echo all good", "--key", "ci.key")
        #expect(passed.status == 0 && passed.stderr.contains("all good"), "\(passed.stderr)")
        let listing = try sandbox.fixity("signatures", "app@1")
        #expect(listing.stdout.contains("FAILED") && listing.stdout.contains("PASSED"), "\(listing.stdout)")
        #expect(try sandbox.fixity("log", "checkpoint", "--key", "ci.key").status == 0)
        #expect(try sandbox.fixity("prove", "app@1", "--out", "b.json", "--key", "ci.key").status == 0)
        let bundle = try sandbox.fixity("verify-bundle", "b.json", "--key", "ci.key")
        #expect(bundle.stdout.contains("FAILED") && bundle.stdout.contains("PASSED"), "\(bundle.stdout)")
    }

    /// The small ones of issue 14 item 19.
    @Test func smallOnes() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        let keep = try sandbox.fixity("deploy", "app@1", "--root", "root", "--keep", "-1")
        #expect(keep.status == 64 && keep.stderr.contains("--keep must be at least 1 (got -1)"), "\(keep.stderr)")
        try sandbox.sh("mkdir plain")
        let plain = try sandbox.fixity("rollback", "--root", "plain")
        #expect(plain.status == 2 && plain.stderr.contains("not a Fixity root"), "\(plain.stderr)")
        #expect(try sandbox.sh("ls -A plain").stdout.isEmpty, "rollback made a root out of a plain folder")
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let now = try sandbox.fixity("state", "--at", "now", "--root", "root", "--json")
        #expect(now.status == 0, "\(now.stderr)")
        let export = try sandbox.fixity("oci", "export", "app@1", "--out", "missing/img")
        #expect(
            export.status == 2 && export.stderr.contains("parent folder missing does not exist")
                && !export.stderr.contains("incoming"), "\(export.stderr)")
        let help = try sandbox.fixity("deploy", "--help")
        #expect(!help.stdout.contains("(default 60). (default"), "\(help.stdout)")
        try sandbox.sh("printf 'leftover' > store/tmp/interrupted-seal")
        let gc = try sandbox.fixity("gc", "--json").json()
        #expect(gc["removed_temp_bytes"] as? Int == 8)
    }

    /// Ctrl-C says in one line that what was not finished was not recorded.
    @Test func ctrlCSaysNothingWasRecorded() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir big && head -c 600M /dev/zero > big/f")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.binary)
        process.arguments = ["seal", "big", "--app", "big", "--store", sandbox.store]
        process.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        usleep(300_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if process.terminationStatus == 130 {
            #expect(text.contains("interrupted; what this command had not finished was not recorded"), "\(text)")
            #expect(
                try sandbox.fixity("releases", "--app", "big", "--json").json()["releases"] as? [Any] == nil
                    || (try sandbox.fixity("releases", "--app", "big", "--json").json()["releases"] as? [Any])?.isEmpty
                        == true
            )
        } else {
            // The seal finished before the signal arrived (a fast machine): nothing to check.
            #expect(process.terminationStatus == 0)
        }
        #expect(try sandbox.fixity("fsck").status == 0)
    }
}
