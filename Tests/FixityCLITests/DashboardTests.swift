import Foundation
import Testing

/// The dashboard (docs/dashboard.md) in a real browser: a server with two agents on loopback,
/// releases 1.0 and 1.1 of an app, keys for an admin, a viewer, a requester and an approver,
/// and a pending access window; tests/dashboard/browser_test.py drives headless Chromium
/// through every page the issue names. With FIXITY_SCREENSHOTS=DIR its screenshots go there
/// (docs/screenshots is made that way); otherwise into the sandbox.
@Suite(.serialized) struct DashboardTests {
    @Test func theDashboardWorksInARealBrowser() throws {
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
        [environments.staging.access]
        approvals = 1
        approvers = ["alice"]
        max_ttl = "1h"
        [environments.production]
        trusted_keys = ["ci"]
        threshold = 1

        """.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        try sandbox.sh("mkdir -p app/lib && echo v1 > app/index.html && echo 'console.log(1)' > app/lib/app.js")
        _ = try sandbox.seal("app", app: "web", extra: ["--tag", "1.0"])
        try sandbox.sh("echo v2 > app/index.html && echo 'body{}' > app/lib/site.css")
        let release = try sandbox.seal("app", app: "web", extra: ["--tag", "1.1"])
        for version in ["1.0", "1.1"] {
            #expect(try sandbox.fixity("sign", "web@\(version)", "--key", "ci.key").status == 0)
        }
        let server = try TestServer(in: sandbox)
        let admin = try server.makeKey("admin", scopes: ["admin"], expires: "30d")
        try #require(try server.client(["policy", "set", "policy.toml", "--sign", "r1.key"], key: admin).status == 0)
        for version in ["1.0", "1.1"] {
            try #require(try server.client(["push", "web@\(version)"], key: admin).status == 0)
        }
        let viewer = try server.makeKey("viewer", scopes: ["release:read"])
        let dave = try server.makeKey("dave", scopes: ["access:request:staging", "release:read"])
        let alice = try server.makeKey("alice", scopes: ["access:approve:staging", "release:read"])
        let fleet = TestFleet(sandbox)
        defer { fleet.close() }
        for host in ["h1", "h2"] {
            try fleet.enroll(host, env: "staging", server: server, key: admin, roots: [root], threshold: 1)
            try fleet.start(host, server: server.url)
        }
        #expect(try server.client(["promote", "web@1.0", "--env", "staging"], key: admin).status == 0)
        try #require(TestFleet.waitUntil(60) { ["h1", "h2"].allSatisfy { fleet.content($0) == "v1" } })
        let promoted = try server.client(
            ["promote", "web@1.1", "--env", "staging", "--waves", "50%,100%", "--bake", "1s"], key: admin)
        #expect(promoted.status == 0, "\(promoted.stderr)")
        try #require(TestFleet.waitUntil(60) { ["h1", "h2"].allSatisfy { fleet.content($0) == "v2" } })
        try #require(
            TestFleet.waitUntil(30) {
                (try? fleet.hosts("staging", server: server, key: admin))?.values.allSatisfy {
                    $0["state"] as? String == "converged"
                } ?? false
            }, "the hosts never settled as converged")
        let asked = try server.client(
            [
                "access", "request", "--env", "staging", "--host", "h2", "--reason", "INC-7: slow checkout", "--ttl",
                "20m",
            ],
            key: dave)
        try #require(asked.status == 0, "\(asked.stderr)")
        let window = asked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // A second window, already open, with a command run through it: the access page shows
        // open windows with their commands and output.
        let second = try server.client(
            ["access", "request", "--env", "staging", "--host", "h2", "--reason", "INC-8: read logs", "--ttl", "20m"],
            key: dave)
        try #require(second.status == 0, "\(second.stderr)")
        let open = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(try server.client(["access", "approve", open], key: alice).status == 0)
        let ran = try Sandbox.run(
            "/usr/bin/env",
            [
                "FIXITY_API_KEY=\(dave)", Sandbox.binary, "exec", "--server", server.url, "--env", "staging", "--host",
                "h2", "--window", open, "--", "echo", "hello from h2",
            ], in: sandbox.root)
        #expect(ran.status == 0 && ran.stdout.contains("hello from h2"), "exec: \(ran.stderr)")

        let shots = ProcessInfo.processInfo.environment["FIXITY_SCREENSHOTS"] ?? "\(sandbox.root)/screenshots"
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tests/dashboard/browser_test.py").path
        let run = try Sandbox.run(
            "/usr/bin/env",
            [
                "FIXITY_URL=\(server.url)", "FIXITY_ADMIN_KEY=\(admin)", "FIXITY_VIEWER_KEY=\(viewer)",
                "FIXITY_APPROVER_KEY=\(alice)", "FIXITY_TAMPER_FILE=\(fleet.root("h1"))/current/index.html",
                "FIXITY_HOST=h1", "FIXITY_ENV=staging", "FIXITY_RELEASE=\(release)", "FIXITY_WINDOW=\(window)",
                "FIXITY_OPEN_WINDOW=\(open)", "FIXITY_SHOTS=\(shots)", "python3", script,
            ], in: sandbox.root)
        #expect(run.status == 0, "browser test:\n\(run.stdout)\n\(run.stderr)")
        for page in [
            "login", "environments", "environment", "drifted", "host", "release", "ledger", "ledger-entry",
            "state-at", "keys", "refused", "access-pending", "access",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(shots)/\(page).png"), "no screenshot of \(page)")
        }
    }
}
