import FixityCore
import Foundation
import GRDB
import Testing

/// Access windows end to end (docs/access.md): a server, agents on loopback, keys for a
/// requester and approvers; a window asked for, refused every way the issue names, approved by
/// two others, commands run through it (one floods, one never ends, one edits the live tree),
/// drift made under it left alone even under `drift = "repair"`, and at its end the change
/// listed with its digests and reverted — or, under `after = "propose"`, sealed as a release
/// that then meets the policy like any other. The ledger holds the whole window.
@Suite(.serialized) struct AccessTests {
    struct Setup {
        let sandbox: Sandbox
        let server: TestServer
        let admin: String
        let fleet: TestFleet
        let keys: [String: String]
        let releases: [String: String]
    }

    static func setUp() throws -> Setup {
        let sandbox = try Sandbox()
        let signing = try sandbox.signingKeys(["r1", "ci"])
        let root = signing["r1"]!
        try """
        [root]
        keys = ["\(root)"]
        threshold = 1
        [keys]
        ci = "\(signing["ci"]!)"
        [environments.staging]
        trusted_keys = ["ci"]
        threshold = 1
        drift = "repair"
        [environments.staging.access]
        approvals = 2
        approvers = ["alice", "bob", "carol"]
        max_ttl = "1h"
        deny_commands = ["^rm -rf /", "mkfs", "^dd "]
        after = "revert"
        [environments.production]
        trusted_keys = ["ci"]
        threshold = 1
        [environments.production.access]
        approvals = 1
        approvers = ["alice"]
        max_ttl = "2h"
        after = "propose"

        """.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        try sandbox.sh("mkdir -p app && echo v1 > app/index.html")
        let release = try sandbox.seal("app", app: "web", extra: ["--tag", "1.0"])
        #expect(try sandbox.fixity("sign", "web@1.0", "--key", "ci.key").status == 0)
        let server = try TestServer(in: sandbox)
        let admin = try server.makeKey("admin", scopes: ["admin"], expires: "30d")
        try #require(try server.client(["policy", "set", "policy.toml", "--sign", "r1.key"], key: admin).status == 0)
        try #require(try server.client(["push", "web@1.0"], key: admin).status == 0)
        var keys = [String: String]()
        keys["dave"] = try server.makeKey(
            "dave", scopes: ["access:request:staging", "access:request:production", "release:read"])
        keys["mallory"] = try server.makeKey("mallory", scopes: ["access:request:staging"])
        for name in ["alice", "bob"] {
            keys[name] = try server.makeKey(name, scopes: ["access:approve:staging", "access:approve:production"])
        }
        keys["carol"] = try server.makeKey("carol", scopes: ["release:read"])
        keys["eve"] = try server.makeKey("eve", scopes: ["access:approve:staging"])
        let fleet = TestFleet(sandbox)
        for (host, env) in [("h1", "staging"), ("h2", "staging"), ("p1", "production")] {
            try fleet.enroll(host, env: env, server: server, key: admin, roots: [root], threshold: 1)
            try fleet.start(host, server: server.url)
        }
        for env in ["staging", "production"] {
            #expect(try server.client(["promote", "web@1.0", "--env", env], key: admin).status == 0)
        }
        let converged = TestFleet.waitUntil(60) { ["h1", "h2", "p1"].allSatisfy { fleet.content($0) == "v1" } }
        try #require(converged, "the hosts never ran 1.0")
        return Setup(
            sandbox: sandbox, server: server, admin: admin, fleet: fleet, keys: keys, releases: ["1.0": release])
    }

    /// `fixity access …` with `key`.
    static func access(_ setup: Setup, _ key: String, _ args: [String]) throws -> RunResult {
        try setup.server.client(["access"] + args, key: setup.keys[key] ?? key)
    }

    /// `fixity exec` with `key` (its command after `--`, so the server flags go first).
    static func exec(_ setup: Setup, _ key: String, _ options: [String], _ command: [String]) throws -> RunResult {
        try Sandbox.run(
            "/usr/bin/env",
            ["FIXITY_API_KEY=\(setup.keys[key] ?? key)", Sandbox.binary, "exec", "--server", setup.server.url]
                + options + ["--"] + command,
            in: setup.sandbox.root)
    }

    static func window(_ setup: Setup, _ id: String) throws -> [String: Any] {
        try access(setup, "dave", ["show", id, "--json"]).json()
    }

    @Test func aWindowIsAskedApprovedUsedClosedAndItsChangeReverted() throws {
        let setup = try Self.setUp()
        defer { setup.fleet.close() }
        let (fleet, server) = (setup.fleet, setup.server)

        // Over the policy's max_ttl, and onto a host of another environment: refused.
        let long = try Self.access(
            setup, "dave", ["request", "--env", "staging", "--host", "h1", "--reason", "x", "--ttl", "2h"])
        #expect(long.status == 2 && long.stderr.contains("max_ttl"), "\(long.stderr)")
        let foreign = try Self.access(
            setup, "dave", ["request", "--env", "staging", "--host", "p1", "--reason", "x", "--ttl", "10m"])
        #expect(foreign.status == 2 && foreign.stderr.contains("no enrolled host 'p1'"), "\(foreign.stderr)")

        let asked = try Self.access(
            setup, "dave",
            ["request", "--env", "staging", "--host", "h1", "--reason", "INC-42: checkout 500s", "--ttl", "30m"])
        try #require(asked.status == 0, "\(asked.stderr)")
        let id = asked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        // Nothing runs before the window opens.
        let early = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h1"], ["true"])
        #expect(early.status == 2 && early.stderr.contains("no open access window"), "\(early.stderr)")
        // The requester approving their own window; a key outside the approvers; one without the scope.
        let own = try Self.access(setup, "dave", ["approve", id])
        #expect(own.status == 2 && own.stderr.contains("scope access:approve:staging"), "\(own.stderr)")
        let selfApproval = try setup.server.request(
            "POST", "/v1/access/windows/\(id)/approve", key: setup.admin, json: "{}")
        #expect(selfApproval.status == 403 || selfApproval.status == 200, "admin is not dave: \(selfApproval.status)")
        let eve = try Self.access(setup, "eve", ["approve", id])
        #expect(
            eve.status == 2 && eve.stderr.contains("not among environments.staging.access.approvers"), "\(eve.stderr)")
        let carol = try Self.access(setup, "carol", ["approve", id])
        #expect(carol.status == 2 && carol.stderr.contains("lacks the scope"), "\(carol.stderr)")

        #expect(try Self.access(setup, "alice", ["approve", id]).status == 0)
        #expect(try Self.window(setup, id)["state"] as? String == "pending", "one approval of two opened it")
        let twice = try Self.access(setup, "alice", ["approve", id])
        #expect(twice.status == 2 && twice.stderr.contains("already"), "\(twice.stderr)")
        #expect(try Self.access(setup, "bob", ["approve", id, "--reason", "on call"]).status == 0)
        #expect(try Self.window(setup, id)["state"] as? String == "open")

        // Commands: output and exit codes come back as the host produced them.
        let hello = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h1"], ["echo", "hello from h1"])
        #expect(
            hello.status == 0 && hello.stdout == "hello from h1\n", "\(hello.status) \(hello.stdout) \(hello.stderr)")
        let three = try Self.exec(
            setup, "dave", ["--env", "staging", "--host", "h1"], ["sh", "-c", "echo oops >&2; exit 3"])
        #expect(three.status == 3 && three.stderr.contains("oops"), "\(three.status) \(three.stderr)")
        // A command that is not there exits as a shell says (127), not as a refusal (2).
        let missing = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h1"], ["no-such-command-x"])
        #expect(
            missing.status == 127 && missing.stderr.contains("no-such-command-x"), "\(missing.status) \(missing.stderr)"
        )
        // Refused before the host: another host, another key, a denied command.
        let other = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h2", "--window", id], ["true"])
        #expect(other.status == 2 && other.stderr.contains("does not cover host h2"), "\(other.stderr)")
        let stranger = try Self.exec(setup, "mallory", ["--env", "staging", "--host", "h1", "--window", id], ["true"])
        #expect(stranger.status == 2 && stranger.stderr.contains("only the requester"), "\(stranger.stderr)")
        let denied = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h1"], ["rm", "-rf", "/tmp/x"])
        #expect(denied.status == 2 && denied.stderr.contains("deny_commands"), "\(denied.stderr)")
        // A flood is bounded (kept 1 MiB, the rest counted); a command that never ends is killed.
        let flood = try Self.exec(
            setup, "dave", ["--env", "staging", "--host", "h1"], ["head", "-c", "3000000", "/dev/zero"])
        #expect(
            flood.status == 0 && flood.stdout.utf8.count == AccessLimits.keptOutput,
            "\(flood.stdout.utf8.count) \(flood.stderr)")
        #expect(flood.stderr.contains("\(3_000_000 - AccessLimits.keptOutput) more bytes"), "\(flood.stderr)")
        let started = Date()
        let endless = try Self.exec(
            setup, "dave", ["--env", "staging", "--host", "h1", "--timeout", "2s"], ["sleep", "60"])
        #expect(endless.status == 124 && endless.stderr.contains("timeout"), "\(endless.status) \(endless.stderr)")
        #expect(Date().timeIntervalSince(started) < 30, "the timeout did not kill it")

        // A hot-fix through the window: drift under it is reported, never repaired (drift = "repair").
        let edit = try Self.exec(
            setup, "dave", ["--env", "staging", "--host", "h1"], ["sh", "-c", "echo hotfix > current/index.html"])
        #expect(edit.status == 0, "\(edit.stderr)")
        let reported = try TestFleet.waitUntil(20) {
            (try fleet.hosts("staging", server: server, key: setup.admin))["h1"]?["state"] as? String == "drifted"
        }
        #expect(reported, "the drift made under the window was not reported")
        usleep(1_500_000)
        #expect(fleet.content("h1") == "hotfix", "drift made under an open window was repaired")

        // Closed: h1 lists its change with both digests, then reverts it.
        #expect(try Self.access(setup, "dave", ["close", id, "--reason", "fixed upstream"]).status == 0)
        let reverted = try TestFleet.waitUntil(30) {
            let outcomes = try Self.window(setup, id)["outcomes"] as? [[String: Any]] ?? []
            return outcomes.first?["outcome"] as? String == "reverted"
        }
        let shown = try Self.window(setup, id)
        #expect(reverted, "h1 never reported the window's end: \(shown["outcomes"] ?? "-")")
        #expect(fleet.content("h1") == "v1")
        let changes = shown["changes"] as? [[String: Any]] ?? []
        #expect(changes.count == 1 && changes.first?["path"] as? String == "index.html", "\(changes)")
        #expect(changes.first?["before"] as? String == Digest.of(Array("v1\n".utf8)).description)
        #expect(changes.first?["after"] as? String == Digest.of(Array("hotfix\n".utf8)).description)
        let execs = shown["execs"] as? [[String: Any]] ?? []
        #expect(execs.count == 6, "\(execs.map { $0["argv"] ?? "-" })")
        #expect(execs.contains { $0["timed_out"] as? Bool == true && $0["exit_code"] == nil }, "\(execs)")
        #expect(
            execs.contains {
                $0["stdout_bytes"] as? Int == 3_000_000 && $0["stdout_kept"] as? Int == AccessLimits.keptOutput
            })
        // A key sees the windows of the environments it may ask for or approve in.
        let listed = try Self.access(setup, "mallory", ["list", "--json"])
        let windows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(
            listed.status == 0 && windows.map { $0["id"] as? Int } == [Int(id)], "\(listed.stdout) \(listed.stderr)")
        let text = try Self.access(setup, "dave", ["show", id]).stdout
        #expect(text.contains("hello from h1") && text.contains("host h1: reverted, 1 change(s)"), "\(text)")
        // Arguments shown as a shell would need them typed; refusals listed with who and why.
        #expect(text.contains("sh -c 'echo oops >&2; exit 3'"), "\(text)")
        #expect(
            text.contains("refused:") && text.contains("dave on h1: rm -rf /tmp/x") && text.contains("deny_commands"),
            "\(text)")

        // Ended is ended: no command, no approval, no re-opening.
        let after = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h1", "--window", id], ["true"])
        #expect(after.status == 2 && after.stderr.contains("is closed"), "\(after.stderr)")
        let late = try Self.access(setup, "carol", ["approve", id])
        #expect(late.status == 2)
        let reapproved = try setup.server.request(
            "POST", "/v1/access/windows/\(id)/approve", key: setup.keys["bob"], json: "{}")
        #expect(reapproved.status == 409, "\(reapproved.status)")

        // The ledger holds the whole window, and verifies.
        let entries = try FleetTests.ledgerEntries(server).filter { $0["subject"] as? String == "window:\(id)" }
        let actions = entries.compactMap { $0["action"] as? String }
        for action in [
            "access-request", "access-approve", "access-open", "access-exec", "access-exec-refused",
            "access-close", "access-changes",
        ] {
            #expect(actions.contains(action), "no \(action) for window \(id): \(actions)")
        }
        #expect(actions.filter { $0 == "access-approve" }.count == 2)
        #expect(actions.filter { $0 == "access-exec" }.count == 6)
        let ran = entries.first { ($0["details"] as? [String: String])?["argv"] == #"["echo","hello from h1"]"# }
        let details = ran?["details"] as? [String: String] ?? [:]
        #expect(details["by"] == "dave" && details["exit_code"] == "0" && details["host"] == "h1", "\(details)")
        #expect(details["stdout_digest"] == Digest.of(Array("hello from h1\n".utf8)).description)
        // The drift h1 reported during the window names it.
        let drifts = try FleetTests.ledgerEntries(server).filter {
            $0["action"] as? String == "host-report" && $0["subject"] as? String == "h1"
                && ($0["details"] as? [String: String])?["event"] == "drift"
        }
        #expect(
            drifts.contains { ($0["details"] as? [String: String])?["window"] == id },
            "\(drifts.map { $0["details"] ?? "-" })")
        let verified = try server.client(["log", "verify", "--server", server.url], key: setup.admin)
        #expect(verified.status == 0, "\(verified.stderr)")
        // h1's own ledger has what ran on it too.
        #expect(try setup.sandbox.fixity(["log", "verify"], store: fleet.store("h1")).status == 0)
    }

    @Test func proposedChangesMeetThePolicyAndAnOfflineHostReportsWhenItReturns() throws {
        let setup = try Self.setUp()
        defer { setup.fleet.close() }
        let (fleet, server) = (setup.fleet, setup.server)

        // Production: one approval, after = "propose".
        let asked = try Self.access(
            setup, "dave", ["request", "--env", "production", "--reason", "INC-43", "--ttl", "20m"])
        try #require(asked.status == 0, "\(asked.stderr)")
        let id = asked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.access(setup, "alice", ["approve", id]).status == 0)
        let edit = try Self.exec(
            setup, "dave", ["--env", "production", "--host", "p1"], ["sh", "-c", "echo patched > current/index.html"])
        #expect(edit.status == 0, "\(edit.stderr)")
        #expect(try Self.access(setup, "dave", ["close", id]).status == 0)
        let proposed = try TestFleet.waitUntil(30) {
            ((try Self.window(setup, id)["outcomes"] as? [[String: Any]])?.first?["outcome"] as? String) == "proposed"
        }
        let outcome = (try Self.window(setup, id)["outcomes"] as? [[String: Any]])?.first ?? [:]
        #expect(proposed, "\(outcome)")
        // The change stays live as a proposal; the proposal is a release on the server, unsigned:
        // promoting it meets the policy like any release — and is refused.
        #expect(fleet.content("p1") == "patched")
        let proposal = try #require(outcome["proposal"] as? String)
        let shown = try server.client(["show", proposal, "--json"], key: setup.admin)
        let promote = try server.client(["promote", proposal, "--env", "production"], key: setup.admin)
        #expect(promote.status == 2 && promote.stderr.contains("signature"), "\(shown.stderr) \(promote.stderr)")

        // Staging: h2's agent dies during its window; the window closes; h2 returns and reports.
        let second = try Self.access(
            setup, "dave", ["request", "--env", "staging", "--host", "h2", "--reason", "INC-44", "--ttl", "10m"])
        let window = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.access(setup, "alice", ["approve", window]).status == 0)
        #expect(try Self.access(setup, "bob", ["approve", window]).status == 0)
        let touched = try Self.exec(
            setup, "dave", ["--env", "staging", "--host", "h2"], ["sh", "-c", "echo 'while away' > current/extra.txt"])
        #expect(touched.status == 0, "\(touched.stderr)")
        fleet.stop("h2")
        #expect(try Self.access(setup, "dave", ["close", window]).status == 0)
        let waiting = (try Self.window(setup, window)["outcomes"] as? [[String: Any]])?.first?["outcome"] as? String
        #expect(waiting == "waiting")
        try fleet.start("h2", server: server.url)
        let collected = try TestFleet.waitUntil(30) {
            ((try Self.window(setup, window)["outcomes"] as? [[String: Any]])?.first?["outcome"] as? String)
                == "reverted"
        }
        #expect(collected, "\((try? String(contentsOfFile: fleet.log("h2"), encoding: .utf8)) ?? "-")")
        #expect(!FileManager.default.fileExists(atPath: "\(fleet.root("h2"))/current/extra.txt"))
        let changes = try Self.window(setup, window)["changes"] as? [[String: Any]] ?? []
        #expect(changes.first?["path"] as? String == "extra.txt" && changes.first?["kind"] as? String == "added")
        #expect(try server.client(["log", "verify", "--server", server.url], key: setup.admin).status == 0)
    }

    /// The agent judges every command by its own verified policy: a command the server should
    /// have refused (put straight into its database) and a window longer than `max_ttl` are
    /// refused on the host, nothing runs. And a window's TTL ends it: nothing runs after.
    @Test func aHostRefusesWhatItsPolicyForbidsEvenFromItsServerAndWindowsExpire() throws {
        let setup = try Self.setUp()
        defer { setup.fleet.close() }
        let (fleet, server) = (setup.fleet, setup.server)
        let asked = try Self.access(
            setup, "dave", ["request", "--env", "staging", "--host", "h1", "--reason", "INC-45", "--ttl", "1m"])
        let id = try #require(Int64(asked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try Self.access(setup, "alice", ["approve", String(id)]).status == 0)
        #expect(try Self.access(setup, "bob", ["approve", String(id)]).status == 0)
        let hosts = try fleet.hosts("staging", server: server, key: setup.admin)
        let h1 = try #require(hosts["h1"]?["key_id"] as? String)
        let p1 = try #require(
            (try fleet.hosts("production", server: server, key: setup.admin))["p1"]?["key_id"] as? String)
        let marker = "\(setup.sandbox.root)/ran"
        let database = try liveDatabase("\(setup.sandbox.root)/\(server.data)/fixity.db")
        let now = Instant(Date()).description
        let later = Instant(Date().addingTimeInterval(3 * 3600)).description
        try database.write { db in
            // A denied command the server let through.
            try db.execute(
                sql: """
                    INSERT INTO access_execs (window_id, key_id, host, argv, timeout_seconds, requested_by, requested_key,
                        state, requested_at) VALUES (?, ?, 'h1', ?, 10, 'dave', 'x', 'queued', ?)
                    """,
                arguments: [id, h1, #"["dd","if=/dev/zero","of=\#(marker)","count=1"]"#, now])
            // A window onto production nobody approved, three hours long (max_ttl there is 2h).
            try db.execute(
                sql: """
                    INSERT INTO access_windows (env, reason, ttl_seconds, requester, requester_key, approvals_needed, after,
                        policy, state, requested_at, opened_at, expires_at) VALUES
                        ('production', 'forged', 10800, 'mallory', 'x', 0, 'propose', 'x', 'open', ?, ?, ?)
                    """,
                arguments: [now, now, later])
            let forged = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO access_window_hosts (window_id, key_id, name) VALUES (?, ?, 'p1')",
                arguments: [forged, p1])
            try db.execute(
                sql: """
                    INSERT INTO access_execs (window_id, key_id, host, argv, timeout_seconds, requested_by, requested_key,
                        state, requested_at) VALUES (?, ?, 'p1', ?, 10, 'mallory', 'x', 'queued', ?)
                    """,
                arguments: [forged, p1, #"["touch","\#(marker)"]"#, now])
        }
        let refused = try TestFleet.waitUntil(30) {
            try database.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM access_execs WHERE state = 'refused'") ?? 0
            } == 2
        }
        let reasons = try database.read { db in try String.fetchAll(db, sql: "SELECT reason FROM access_execs") }
        #expect(refused, "\(reasons)")
        #expect(reasons.contains { $0.contains("host h1 refused") && $0.contains("deny_commands") }, "\(reasons)")
        #expect(
            reasons.contains { $0.contains("host p1 refused") && $0.contains("not open onto this host") }, "\(reasons)")
        #expect(!FileManager.default.fileExists(atPath: marker), "a host ran a command its policy forbids")

        // The TTL runs out (1 minute from the opening): the window is expired, nothing runs.
        let expired = try TestFleet.waitUntil(90) {
            try Self.window(setup, String(id))["state"] as? String == "expired"
        }
        #expect(expired)
        let late = try Self.exec(setup, "dave", ["--env", "staging", "--host", "h1", "--window", String(id)], ["true"])
        #expect(late.status == 2 && late.stderr.contains("expired"), "\(late.stderr)")
        // The window reads as expired from the moment its TTL ran out; the server's clock task
        // (4 times a second) then records it: wait for that entry rather than race it.
        var closed: [String: Any]?
        _ = try TestFleet.waitUntil(15) {
            closed = try FleetTests.ledgerEntries(server).first {
                $0["action"] as? String == "access-close" && $0["subject"] as? String == "window:\(id)"
            }
            return closed != nil
        }
        #expect((closed?["details"] as? [String: String])?["state"] == "expired", "\(closed ?? [:])")
        let reported = try TestFleet.waitUntil(30) {
            ((try Self.window(setup, String(id))["outcomes"] as? [[String: Any]])?.first?["outcome"] as? String)
                == "clean"
        }
        #expect(reported)
    }

    /// Issue 29, item 7: drift made while h2's agent was stopped is there when a window opens:
    /// it is reported as drift before the window, the window's change list holds only what was
    /// made under it, and the requester and approvers are told.
    @Test func driftFromBeforeAWindowIsNotItsChange() throws {
        let setup = try Self.setUp()
        defer { setup.fleet.close() }
        let (fleet, server) = (setup.fleet, setup.server)
        fleet.stop("h2")
        try "made while the agent was down\n".write(
            toFile: "\(fleet.root("h2"))/current/index.html", atomically: false, encoding: .utf8)
        let asked = try Self.access(
            setup, "dave", ["request", "--env", "staging", "--host", "h2", "--reason", "INC-7", "--ttl", "30m"])
        try #require(asked.status == 0, "\(asked.stderr)")
        let id = asked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.access(setup, "alice", ["approve", id]).status == 0)
        #expect(try Self.access(setup, "bob", ["approve", id]).status == 0)
        try fleet.start("h2", server: server.url)
        // The host says what it found as the window opened; approvers and the requester see it.
        let told = try TestFleet.waitUntil(30) {
            (try Self.window(setup, id)["drifted_hosts"] as? [String]) == ["h2"]
        }
        let seen = try Self.window(setup, id)
        #expect(told, "the window never said h2 had drifted before it: \(seen)")
        let shown = try Self.access(setup, "dave", ["show", id])
        #expect(shown.stdout.contains("had drifted before this window"), "\(shown.stdout)")

        let made = try Self.exec(
            setup, "dave", ["--env", "staging", "--host", "h2"],
            ["sh", "-c", "echo made-in-window > current/extra.txt"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try Self.access(setup, "dave", ["close", id]).status == 0)
        let ended = try TestFleet.waitUntil(30) {
            let outcomes = try Self.window(setup, id)["outcomes"] as? [[String: Any]] ?? []
            return outcomes.first?["outcome"] as? String == "reverted"
        }
        let window = try Self.window(setup, id)
        #expect(ended, "h2 never reported the window's end: \(window["outcomes"] ?? "-")")
        let changes = (window["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(changes == ["extra.txt"], "the window was blamed for drift made before it: \(changes)")
        #expect(!FileManager.default.fileExists(atPath: "\(fleet.root("h2"))/current/extra.txt"))
        // The drift before the window was reported without the window's name.
        let drifts = try FleetTests.ledgerEntries(server).filter {
            $0["action"] as? String == "host-report" && $0["subject"] as? String == "h2"
                && ($0["details"] as? [String: String])?["event"] == "drift"
        }
        #expect(
            drifts.contains { ($0["details"] as? [String: String])?["window"] == nil },
            "\(drifts.map { $0["details"] ?? "-" })")
    }
}
