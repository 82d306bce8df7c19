import FixityCore
import Foundation
import GRDB
import Testing

/// What an operator's first fleet tripped over (issue 29), each through the built binary: a
/// closed pipe, a server that is down, one agent cycle over a drifted tree, a reinstalled host,
/// two agents on one root, an environment name with a typo, a server stopping with polls held.
@Suite(.serialized) struct FirstFleetTests {
    /// A server with FleetTests' policy and releases, `h1` in staging (drift = "repair") and
    /// `p1` in production (drift = "report"), both converged on web@1.0 by one cycle each.
    static func converged() throws -> (Sandbox, TestServer, String, TestFleet, [String]) {
        let sandbox = try Sandbox()
        let (roots, _) = try FleetTests.prepare(sandbox)
        let (server, admin) = try FleetTests.serve(sandbox)
        let fleet = TestFleet(sandbox)
        try fleet.enroll("h1", env: "staging", server: server, key: admin, roots: roots, threshold: 2)
        try fleet.enroll("p1", env: "production", server: server, key: admin, roots: roots, threshold: 2)
        #expect(try server.client(["promote", "web@1.0", "--env", "staging"], key: admin).status == 0)
        let first = try fleet.once("h1", server: server.url)
        try #require(first.status == 0, "h1: \(first.stdout) \(first.stderr)")
        #expect(try server.client(["promote", "web@1.0", "--env", "production"], key: admin).status == 0)
        let second = try fleet.once("p1", server: server.url)
        try #require(second.status == 0, "p1: \(second.stdout) \(second.stderr)")
        return (sandbox, server, admin, fleet, roots)
    }

    /// Runs `fixity ARGS` with its stdout a pipe nobody reads (the reader closed before it
    /// started), as `| head -1` is once head has its line; returns the exit status as a shell
    /// reports it (128+N for a signal) and stderr.
    static func intoClosedPipe(_ sandbox: Sandbox, _ args: [String], key: String) throws -> (Int, String) {
        let script = """
            import os, subprocess, sys
            r, w = os.pipe()
            os.close(r)
            p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)
            sys.stdout.write(str(128 - p.returncode if p.returncode < 0 else p.returncode) + "\\n")
            sys.stdout.write(p.stderr.decode(errors="replace"))
            """
        let result = try Sandbox.run(
            "/usr/bin/env", ["FIXITY_API_KEY=\(key)", "python3", "-c", script, Sandbox.binary] + args,
            in: sandbox.root)
        let lines = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? -1, lines.count > 1 ? String(lines[1]) : "")
    }

    @Test func aClosedPipeEndsACommandQuietlyAndADownServerFailsAtOnce() throws {
        let (sandbox, server, admin, fleet, _) = try Self.converged()
        defer { fleet.close() }
        let waves = try server.client(["promote", "web@2.0", "--env", "staging", "--waves", "50%,100%"], key: admin)
        try #require(waves.status == 0, "\(waves.stderr)")
        // Item 2: the commands the review crashed, and one that never spoke to a server.
        for args in [
            ["env", "show", "staging"], ["rollout", "show", "staging"], ["host", "list"], ["releases"],
        ] {
            let full = args.first == "releases" ? args + ["--store", sandbox.store] : args + ["--server", server.url]
            let (status, stderr) = try Self.intoClosedPipe(sandbox, full, key: admin)
            #expect(status == 141 || status == 0, "\(args): exit \(status)\n\(stderr)")
            #expect(!stderr.contains("Fatal error") && !stderr.contains("backtrace"), "\(args): \(stderr)")
        }

        // Item 5: nothing listens there: refused at once, the URL named, no errno soup.
        let closed = try #require(
            Int(
                try Sandbox.run(
                    "/usr/bin/python3",
                    [
                        "-c",
                        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
                    ], in: sandbox.root
                ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let started = Date()
        let down = try Sandbox.run(
            "/usr/bin/env",
            [
                "FIXITY_API_KEY=\(admin)", Sandbox.binary, "env", "show", "staging", "--server",
                "http://127.0.0.1:\(closed)", "--store", sandbox.store,
            ], in: sandbox.root)
        let took = Date().timeIntervalSince(started)
        #expect(down.status == 2, "\(down.stderr)")
        #expect(down.stderr.contains("http://127.0.0.1:\(closed)") && down.stderr.contains("connection refused"))
        #expect(!down.stderr.contains("errno"), "\(down.stderr)")
        // The connect timeout is 10 s; a refusal used to cost all of it.
        #expect(took < 5, "a refused connection took \(took) s")
        let agent = try fleet.once("h1", server: "http://127.0.0.1:\(closed)")
        #expect(agent.status == 2 && agent.stderr.contains("connection refused"), "\(agent.stderr)")
    }

    @Test func oneCycleChecksTheTreeRepairsUnderRepairAndReportsUnderReport() throws {
        let (_, server, admin, fleet, _) = try Self.converged()
        defer { fleet.close() }
        // Item 3, staging (drift = "repair"): repaired, said so, exit 0, and the server told.
        try "hand-made hot-fix\n".write(
            toFile: "\(fleet.root("h1"))/current/index.html", atomically: false, encoding: .utf8)
        let repaired = try fleet.once("h1", server: server.url)
        #expect(repaired.status == 0, "\(repaired.stdout) \(repaired.stderr)")
        #expect(repaired.stdout.contains("repaired"), "\(repaired.stdout)")
        #expect(fleet.content("h1") == "v1")
        let events = try FleetTests.ledgerEntries(server).compactMap { entry -> String? in
            guard entry["subject"] as? String == "h1" else { return nil }
            return (entry["details"] as? [String: String])?["event"]
        }
        #expect(events.contains("drift") && events.contains("repaired"), "\(events)")
        // Item 15: what the repair kept, by root.
        let sandbox = fleet.sandbox
        let kept = try sandbox.fixity(["evidence", "--root", fleet.root("h1"), "--json"], store: fleet.store("h1"))
        let keptRecords = try kept.json()["evidence"] as? [Any]
        #expect(kept.status == 0 && keptRecords?.count == 1, "\(kept.stdout)")
        let elsewhere = try sandbox.fixity(
            ["evidence", "--root", fleet.root("p1"), "--json"], store: fleet.store("h1"))
        let elsewhereRecords = try elsewhere.json()["evidence"] as? [Any]
        #expect(elsewhereRecords?.count == 0, "\(elsewhere.stdout)")
        let help = try sandbox.fixity(["key", "generate", "--help"])
        #expect(help.stdout.contains("USAGE: fixity key generate"), "\(help.stdout)")

        // Production (drift = "report"): reported, left as found, exit 1 as `fixity verify`.
        try "hand-made hot-fix\n".write(
            toFile: "\(fleet.root("p1"))/current/index.html", atomically: false, encoding: .utf8)
        let drifted = try fleet.once("p1", server: server.url)
        #expect(drifted.status == 1, "\(drifted.stdout) \(drifted.stderr)")
        #expect(drifted.stdout.contains("drifted") && !drifted.stdout.contains("converged"), "\(drifted.stdout)")
        #expect(fleet.content("p1") == "hand-made hot-fix")
        let shown = try fleet.hosts("production", server: server, key: admin)["p1"]
        #expect(shown?["state"] as? String == "drifted", "\(shown ?? [:])")
    }

    @Test func aRevokedNameEnrollsAgainAndItsOldKeyStaysRefused() throws {
        let (sandbox, server, admin, fleet, roots) = try Self.converged()
        defer { fleet.close() }
        // Item 4: h1 is reinstalled: revoked, then enrolled again under its name with a new key.
        let old = "\(sandbox.root)/h1-old.id"
        try FileManager.default.copyItem(atPath: fleet.identity("h1"), toPath: old)
        #expect(try server.client(["host", "revoke", "h1"], key: admin).status == 0)
        try FileManager.default.removeItem(atPath: fleet.identity("h1"))
        let enrolled = try server.client(
            ["host", "enroll", "--env", "staging", "--name", "h1", "--identity", fleet.identity("h1")]
                + roots.flatMap { ["--policy-root", $0] } + ["--policy-root-threshold", "2"],
            key: admin, store: fleet.store("h1"))
        #expect(enrolled.status == 0, "\(enrolled.stderr)")
        // The enrolled name is still unique: a second enrollment of h1 is refused, naming why.
        let again = try server.client(
            ["host", "enroll", "--env", "staging", "--name", "h1", "--identity", "\(sandbox.root)/h1-third.id"]
                + roots.flatMap { ["--policy-root", $0] } + ["--policy-root-threshold", "2"],
            key: admin, store: fleet.store("h1"))
        #expect(again.status == 2 && again.stderr.contains("already enrolled"), "\(again.stderr)")
        // The root was kept by the old identity: the new one is handed it on purpose.
        try FileManager.default.removeItem(atPath: "\(fleet.root("h1"))/.fixity/agent.host")
        let fresh = try fleet.once("h1", server: server.url)
        #expect(fresh.status == 0, "\(fresh.stdout) \(fresh.stderr)")
        // The old key is refused, and the ledger says the new enrollment replaced it.
        let stale = try Sandbox.run(
            Sandbox.binary,
            [
                "agent", "--once", "--server", server.url, "--root", "\(sandbox.root)/h1-elsewhere", "--identity", old,
                "--store", "\(sandbox.root)/h1-old.store",
            ], in: sandbox.root)
        #expect(stale.status == 2 && stale.stderr.contains("revoked"), "\(stale.stderr)")
        let enrolls = try FleetTests.ledgerEntries(server).filter {
            $0["action"] as? String == "host-enroll" && $0["subject"] as? String == "h1"
        }
        #expect(enrolls.count == 2, "\(enrolls)")
        #expect((enrolls.last?["details"] as? [String: String])?["replaces_host_key"] != nil, "\(enrolls)")
        let listed = try fleet.hosts("staging", server: server, key: admin)
        #expect(listed["h1"]?["state"] as? String != "revoked", "\(listed)")
    }

    @Test func oneAgentKeepsARootAndARootKeepsOneIdentity() throws {
        let (sandbox, server, admin, fleet, roots) = try Self.converged()
        defer { fleet.close() }
        // Item 6: while h1's agent runs, a second one on its root is refused at once.
        try fleet.start("h1", server: server.url)
        let running = TestFleet.waitUntil(30) {
            ((try? String(contentsOfFile: fleet.log("h1"), encoding: .utf8)) ?? "").contains("converged")
        }
        #expect(running, "h1's agent never converged")
        let second = try fleet.once("h1", server: server.url)
        #expect(second.status == 2 && second.stderr.contains("another running agent"), "\(second.stderr)")
        fleet.stop("h1")
        // Another host's identity and store pointed at h1's root: refused, naming both hosts.
        try fleet.enroll("h2", env: "staging", server: server, key: admin, roots: roots, threshold: 2)
        let foreign = try Sandbox.run(
            Sandbox.binary,
            [
                "agent", "--once", "--server", server.url, "--root", fleet.root("h1"), "--identity",
                fleet.identity("h2"), "--store", fleet.store("h2"),
            ], in: sandbox.root)
        #expect(
            foreign.status == 2 && foreign.stderr.contains("belongs to host h1") && foreign.stderr.contains("h2"),
            "\(foreign.stderr)")
        // h1 itself still runs there.
        #expect(try fleet.once("h1", server: server.url).status == 0)
    }

    @Test func anUndefinedEnvironmentIsRefusedEverywhereNamingTheDefinedOnes() throws {
        let (sandbox, server, admin, fleet, roots) = try Self.converged()
        defer { fleet.close() }
        // Item 10: the typo is the answer, whatever the key may do.
        let promoter = try server.makeKey("promoter", scopes: ["promote:staging"])
        for (args, key) in [
            (["promote", "web@1.0", "--env", "stagign"], promoter),
            (["promote", "web@1.0", "--env", "stagign"], admin),
            (["env", "show", "stagign"], admin),
            (["rollout", "show", "stagign"], admin),
            (["host", "list", "--env", "stagign"], admin),
        ] {
            let result = try server.client(args, key: key)
            #expect(result.status == 2, "\(args): \(result.status) \(result.stdout)")
            #expect(
                result.stderr.contains("'stagign' is not defined")
                    && result.stderr.contains("defined: production, staging"), "\(args): \(result.stderr)")
        }
        let enroll = try server.client(
            ["host", "enroll", "--env", "stagign", "--name", "typo", "--identity", "\(sandbox.root)/typo.id"]
                + roots.flatMap { ["--policy-root", $0] } + ["--policy-root-threshold", "2"],
            key: admin, store: "\(sandbox.root)/typo.store")
        #expect(enroll.status == 2 && enroll.stderr.contains("'stagign' is not defined"), "\(enroll.stderr)")
        #expect(try fleet.hosts("staging", server: server, key: admin)["typo"] == nil)
    }

    @Test func aStoppingServerAnswersHeldPollsAtOnceAndSaysSo() throws {
        let (_, server, _, fleet, _) = try Self.converged()
        defer { fleet.close() }
        // Item 13: an agent whose poll is held for two minutes, then SIGTERM.
        try fleet.start("h1", server: server.url, interval: "120s")
        let holding = TestFleet.waitUntil(30) {
            ((try? String(contentsOfFile: fleet.log("h1"), encoding: .utf8)) ?? "").contains("converged")
        }
        #expect(holding, "h1's agent never converged")
        let started = Date()
        let status = server.stop(SIGTERM)
        let took = Date().timeIntervalSince(started)
        #expect(status == 0, "exit \(status)")
        #expect(took < 20, "SIGTERM waited \(took) s for a held poll")
        let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
        #expect(log.contains("stopping on signal"), "\(log.suffix(800))")
    }

    @Test func mistakesAreSaidWhenMadeNotAtTheFirstCycle() throws {
        let (sandbox, server, admin, fleet, _) = try Self.converged()
        defer { fleet.close() }
        // Item 11: an approver no key is named for is in force, and said.
        let policy = try String(contentsOfFile: "\(sandbox.root)/policy.toml", encoding: .utf8)
        try (policy + "[environments.staging.access]\napprovals = 1\napprovers = [\"nobody\"]\nmax_ttl = \"1h\"\n")
            .write(
                toFile: "\(sandbox.root)/access.toml", atomically: true, encoding: .utf8)
        let set = try server.client(
            ["policy", "set", "access.toml", "--sign", "r1.key", "--sign", "r2.key"], key: admin)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stderr.contains("warning:") && set.stderr.contains("approvers names 'nobody'"), "\(set.stderr)")

        // A host pinned to a root that did not sign the server's policy: refused at enrollment.
        let other = try sandbox.signingKeys(["stranger"])["stranger"]!
        let wrongRoot = try server.client(
            [
                "host", "enroll", "--env", "staging", "--name", "w1", "--identity", "\(sandbox.root)/w1.id",
                "--policy-root", other,
            ], key: admin, store: "\(sandbox.root)/w1.store")
        #expect(
            wrongRoot.status == 2 && wrongRoot.stderr.contains("not signed by the policy root pinned here"),
            "\(wrongRoot.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/w1.id"))

        // A production host judged alone: known-good in staging is the server's word, not refused here.
        let status = try sandbox.fixity(["status", "--root", fleet.root("p1")], store: fleet.store("p1"))
        #expect(status.status == 0, "\(status.stderr)")
        #expect(!status.stdout.contains("would no longer pass"), "\(status.stdout)")
        #expect(status.stdout.contains("known-good in staging is not visible from this host"), "\(status.stdout)")
    }

    @Test func anOperatorPausesResumesAndAbortsARollout() throws {
        let (_, server, admin, fleet, roots) = try Self.converged()
        defer { fleet.close() }
        try fleet.enroll("h2", env: "staging", server: server, key: admin, roots: roots, threshold: 2)
        #expect(try fleet.once("h2", server: server.url).status == 0)
        // Item 16: 2.0 in two waves whose bake never ends here; h1 is the first wave.
        let promoted = try server.client(
            ["promote", "web@2.0", "--env", "staging", "--waves", "50%,100%", "--bake", "1h"], key: admin)
        try #require(promoted.status == 0, "\(promoted.stderr)")
        let reader = try server.makeKey("reader", scopes: ["release:read"])
        let notAllowed = try server.client(["rollout", "pause", "staging"], key: reader)
        #expect(notAllowed.status == 2 && notAllowed.stderr.contains("promote:staging"), "\(notAllowed.stderr)")

        let paused = try server.client(["rollout", "pause", "staging", "--reason", "checking error rates"], key: admin)
        #expect(paused.status == 0 && paused.stdout.contains("paused"), "\(paused.stdout) \(paused.stderr)")
        // Paused holds, it does not undo: the first wave's host still gets 2.0.
        #expect(try fleet.once("h1", server: server.url).status == 0)
        #expect(fleet.content("h1") == "v2" && fleet.content("h2") == "v1")
        let twice = try server.client(["rollout", "pause", "staging"], key: admin)
        #expect(twice.status == 2 && twice.stderr.contains("cannot be paused"), "\(twice.stderr)")
        let resumed = try server.client(["rollout", "resume", "staging"], key: admin)
        #expect(resumed.status == 0 && resumed.stdout.contains("running"), "\(resumed.stdout) \(resumed.stderr)")

        // Abort: the environment back on 1.0 under the policy, every host told.
        let aborted = try server.client(["rollout", "abort", "staging", "--reason", "latency up 40%"], key: admin)
        #expect(aborted.status == 0 && aborted.stdout.contains("aborted"), "\(aborted.stdout) \(aborted.stderr)")
        #expect(try fleet.once("h1", server: server.url).status == 0)
        #expect(fleet.content("h1") == "v1")
        let shown = try server.client(["env", "show", "staging", "--json"], key: admin).json()
        #expect((shown["desired"] as? [String: Any])?["key"] as? String == "rollout:1", "\(shown)")
        let again = try server.client(["rollout", "abort", "staging"], key: admin)
        #expect(again.status == 2 && again.stderr.contains("is aborted"), "\(again.stderr)")
        let entries = try FleetTests.ledgerEntries(server)
        let actions = entries.compactMap { $0["action"] as? String }
        for action in ["rollout-pause", "rollout-resume", "rollout-abort", "rollout-rollback"] {
            #expect(actions.contains(action), "no \(action): \(actions)")
        }
        let abort = entries.first { $0["action"] as? String == "rollout-abort" }
        #expect((abort?["details"] as? [String: String])?["reason"] == "latency up 40%", "\(abort ?? [:])")

        // Item 15: one host's reports through the CLI; the server's releases, policy and ledger.
        let host = try server.client(["host", "show", "h1"], key: admin)
        #expect(host.status == 0 && host.stdout.contains("deployed") && host.stdout.contains("HOST"), "\(host.stdout)")
        let releases = try server.client(["releases"], key: admin)
        #expect(releases.status == 0 && releases.stdout.contains("2.0"), "\(releases.stdout) \(releases.stderr)")
        let policy = try server.client(["policy", "show"], key: admin)
        #expect(policy.status == 0 && policy.stdout.contains("[environments.staging]"), "\(policy.stderr)")
        let log = try server.client(["log"], key: admin)
        #expect(log.status == 0 && log.stdout.contains("rollout-abort"), "\(log.stderr)")
    }

    @Test func aHostReportsBeforeItCleansUp() throws {
        let (sandbox, server, admin, fleet, _) = try Self.converged()
        defer { fleet.close() }
        // Item 8: a release that keeps one deployment, so the deploy removes the old one.
        try sandbox.sh(
            """
            printf '[deploy]\\nhealth_cmd = "grep -q ^v index.html"\\nhealth_timeout = 5\\nkeep = 1\\n' > app/fixity.toml
            echo v4 > app/index.html
            """)
        let release = try sandbox.seal("app", app: "web", extra: ["--tag", "4.0"])
        #expect(try sandbox.fixity("sign", "web@4.0", "--key", "ci.key").status == 0)
        #expect(try server.client(["push", "web@4.0"], key: admin).status == 0)
        #expect(try server.client(["promote", "web@4.0", "--env", "staging"], key: admin).status == 0)
        let once = try fleet.once("h1", server: server.url)
        #expect(once.status == 0 && fleet.content("h1") == "v4", "\(once.stderr)")
        // The server had the report before the host removed anything.
        let reported = try FleetTests.ledgerEntries(server).first {
            $0["action"] as? String == "host-report" && ($0["details"] as? [String: String])?["event"] == "deployed"
                && ($0["details"] as? [String: String])?["release"] == release
        }
        let hostLedger = try sandbox.fixity(["log", "export"], store: fleet.store("h1")).stdout
        let removed = hostLedger.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["entry"] as? [String: Any]
        }.first { $0["action"] as? String == "remove" }
        let reportedAt = try #require(reported?["time"] as? String, "no deployed report for \(release)")
        let removedAt = try #require(
            removed?["time"] as? String, "the deploy removed nothing: \(hostLedger.suffix(600))")
        let (reportedDate, removedDate) = (Instant(rfc3339: reportedAt)?.date, Instant(rfc3339: removedAt)?.date)
        #expect(
            reportedDate != nil && removedDate != nil && reportedDate! < removedDate!,
            "the old deployment was removed (\(removedAt)) before the report arrived (\(reportedAt))")
    }
}
