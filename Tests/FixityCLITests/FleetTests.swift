import FixityCore
import Foundation
import GRDB
import Testing

/// A fleet through the built binaries (docs/agent.md): one server, twenty agents on loopback
/// and three in network namespaces; a release rolled out in three waves while one namespace is
/// cut off and the server is killed and restarted; a bad release halted in its first wave; drift
/// healed under `drift = "repair"` and reported under `"report"`; and, at the end, every host's
/// own ledger agreeing with what the server says the environment was meant to run.
@Suite(.serialized) struct FleetTests {
    /// Keys, a policy (root r1+r2, threshold 2; staging repairs drift; production needs
    /// known-good in staging), and releases 1.0, 2.0, 3.0 (whose health check fails), signed by ci.
    static func prepare(_ sandbox: Sandbox) throws -> (roots: [String], releases: [String: String]) {
        let keys = try sandbox.signingKeys(["r1", "r2", "ci"])
        let roots = [keys["r1"]!, keys["r2"]!]
        try """
        [root]
        keys = ["\(roots[0])", "\(roots[1])"]
        threshold = 2
        [keys]
        ci = "\(keys["ci"]!)"
        [environments.staging]
        trusted_keys = ["ci"]
        threshold = 1
        drift = "repair"
        [environments.production]
        trusted_keys = ["ci"]
        threshold = 1
        require_known_good_in = ["staging"]

        """.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        try sandbox.sh(
            """
            mkdir -p app && printf '[deploy]\\nhealth_cmd = "grep -q ^v index.html"\\nhealth_timeout = 5\\n' > app/fixity.toml
            """)
        var releases: [String: String] = [:]
        for (version, content) in [("1.0", "v1"), ("2.0", "v2"), ("3.0", "bad")] {
            try sandbox.sh("echo \(content) > app/index.html")
            releases[version] = try sandbox.seal("app", app: "web", extra: ["--tag", version])
            #expect(try sandbox.fixity("sign", "web@\(version)", "--key", "ci.key").status == 0)
        }
        return (roots, releases)
    }

    /// The server ready for agents: its policy set (r1 and r2 sign), every release pushed.
    static func serve(_ sandbox: Sandbox, listen: String = "127.0.0.1:0") throws -> (TestServer, String) {
        let server = try TestServer(in: sandbox, listen: listen)
        let admin = try server.makeKey("admin", scopes: ["admin"], expires: "30d")
        let set = try server.client(
            ["policy", "set", "policy.toml", "--sign", "r1.key", "--sign", "r2.key"], key: admin)
        try #require(set.status == 0, "\(set.stderr)")
        for version in ["1.0", "2.0", "3.0"] {
            let pushed = try server.client(["push", "web@\(version)"], key: admin)
            try #require(pushed.status == 0, "\(pushed.stderr)")
        }
        return (server, admin)
    }

    static func rollout(_ server: TestServer, _ key: String, _ env: String = "staging") throws -> [String: Any] {
        let shown = try server.client(["rollout", "show", env, "--json"], key: key)
        return shown.status == 0 ? try shown.json() : [:]
    }

    /// The server's ledger entries (`log export` wraps each in `entry`).
    static func ledgerEntries(_ server: TestServer) throws -> [[String: Any]] {
        try server.ledger().split(separator: "\n").compactMap {
            let line = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return line?["entry"] as? [String: Any] ?? line
        }
    }

    @Test func aFleetRollsOutInWavesHaltsABadReleaseHealsDriftAndAgreesWithTheLedger() throws {
        let sandbox = try Sandbox()
        let (roots, releases) = try Self.prepare(sandbox)
        var (server, admin) = try Self.serve(sandbox)
        let fleet = TestFleet(sandbox)
        defer { fleet.close() }
        let port = try #require(server.url.split(separator: ":").last.flatMap { Int($0) })

        let loopback = (1...20).map { String(format: "s%02d", $0) }
        let useNamespaces = TestFleet.canUseNamespaces
        if !useNamespaces {
            #expect(
                ProcessInfo.processInfo.environment["CI"] != "true",
                "CI runs as root with iproute2: namespaces must be used")
            print("FleetTests: not root or no iproute2 here: the three namespaced agents are skipped")
        }
        let namespaced = useNamespaces ? ["n1", "n2", "n3"] : []
        let staging = namespaced + loopback
        for host in staging {
            try fleet.enroll(host, env: "staging", server: server, key: admin, roots: roots, threshold: 2)
        }
        try fleet.enroll("p1", env: "production", server: server, key: admin, roots: roots, threshold: 2)
        for host in loopback + ["p1"] { try fleet.start(host, server: server.url) }
        for (index, host) in namespaced.enumerated() {
            let url = try fleet.namespace(
                "fx\(getpid() % 10000)\(host)", index: Int(getpid() % 80) * 3 + index, serverPort: port)
            try fleet.start(host, server: url, namespace: "fx\(getpid() % 10000)\(host)")
        }

        // 1.0 everywhere at once; every host converged and healthy.
        #expect(try server.client(["promote", "web@1.0", "--env", "staging"], key: admin).status == 0)
        let converged = try TestFleet.waitUntil(60) {
            guard staging.allSatisfy({ fleet.content($0) == "v1" }) else { return false }
            return try fleet.hosts("staging", server: server, key: admin).values.allSatisfy {
                $0["state"] as? String == "converged"
            }
        }
        let seen = try fleet.hosts("staging", server: server, key: admin).mapValues { $0["state"] as? String ?? "-" }
        #expect(converged, "1.0 did not reach every host: \(seen)")
        let afterFirst = Instant(Date()).description
        usleep(200_000)

        // 2.0 in three waves. One namespaced host is cut off before it starts: its wave waits.
        let cut = namespaced.last
        if let cut { try fleet.setLink("fx\(getpid() % 10000)\(cut)", up: false) }
        let promoted = try server.client(
            ["promote", "web@2.0", "--env", "staging", "--waves", "10%,50%,100%", "--bake", "1s", "--max-failed", "0"],
            key: admin)
        #expect(promoted.status == 0, "\(promoted.stderr)")
        if let cut {
            // Three poll intervals (2 s) without a word: the server calls it offline.
            let offline = try TestFleet.waitUntil(15) {
                (try fleet.hosts("staging", server: server, key: admin))[cut]?["state"] as? String == "offline"
            }
            #expect(offline, "\(cut) cut off was never shown offline")
            let waiting = try Self.rollout(server, admin)
            #expect(waiting["state"] as? String == "running" && waiting["wave"] as? Int == 0, "\(waiting)")
            #expect(fleet.content("s01") == "v1", "a host of a later wave moved before the first wave was healthy")
            try fleet.setLink("fx\(getpid() % 10000)\(cut)", up: true)
        }
        // Mid-rollout (the second wave running), the server dies and comes back on its port.
        let secondWave = try TestFleet.waitUntil(60) { ((try Self.rollout(server, admin))["wave"] as? Int ?? 0) >= 1 }
        #expect(secondWave)
        _ = server.stop(SIGKILL)
        usleep(500_000)
        server = try TestServer(in: sandbox, listen: "127.0.0.1:\(port)")
        let completed = try TestFleet.waitUntil(90) {
            (try Self.rollout(server, admin))["state"] as? String == "completed"
        }
        let resumed = try Self.rollout(server, admin)
        #expect(completed, "the rollout did not resume after the restart: \(resumed)")
        #expect(try TestFleet.waitUntil(30) { staging.allSatisfy { fleet.content($0) == "v2" } })
        let waves = try Self.ledgerEntries(server).filter { $0["action"] as? String == "rollout-wave" }
        #expect(waves.count == 6, "three waves, each started and completed: \(waves.count)")
        let afterSecond = Instant(Date()).description
        usleep(200_000)

        // Production needs 2.0 known-good in staging: the staging hosts' reports say it is.
        let production = try server.client(["promote", "web@2.0", "--env", "production"], key: admin)
        #expect(production.status == 0, "\(production.stderr)")
        #expect(try TestFleet.waitUntil(30) { fleet.content("p1") == "v2" })

        // 3.0 fails its health check: halted in the first wave, its hosts back on 2.0, every
        // other host never touched (it never even pulled 3.0).
        #expect(
            try server.client(
                ["promote", "web@3.0", "--env", "staging", "--waves", "10%,100%", "--max-failed", "0"], key: admin
            ).status == 0)
        let halted = try TestFleet.waitUntil(60) { (try Self.rollout(server, admin))["state"] as? String == "halted" }
        let stopped = try Self.rollout(server, admin)
        #expect(halted, "\(stopped)")
        let firstWave = Array(staging.prefix(namespaced.isEmpty ? 2 : 3))
        #expect(try TestFleet.waitUntil(30) { staging.allSatisfy { fleet.content($0) == "v2" } })
        for host in staging where !firstWave.contains(host) {
            let shown = try sandbox.fixity(["show", releases["3.0"]!], store: fleet.store(host))
            #expect(shown.status != 0, "\(host) pulled the bad release though its wave never started")
        }
        let actions = try Self.ledgerEntries(server).compactMap { $0["action"] as? String }
        #expect(actions.contains("rollout-halt") && actions.contains("rollout-rollback"))

        // Drift: staging repairs (healed at once, reported), production reports (left as found).
        // How fast is a benchmark (bench/fleet-rollout.sh: ~25 ms); here only that it happens.
        try "hot-fix\n".write(toFile: "\(fleet.root("s01"))/current/index.html", atomically: false, encoding: .utf8)
        try "hot-fix\n".write(toFile: "\(fleet.root("p1"))/current/index.html", atomically: false, encoding: .utf8)
        #expect(try TestFleet.waitUntil(15) { fleet.content("s01") == "v2" }, "s01 was not healed")
        #expect(
            try TestFleet.waitUntil(15) {
                (try fleet.hosts("production", server: server, key: admin))["p1"]?["state"] as? String == "drifted"
            }, "p1's drift was not reported")
        #expect(fleet.content("p1") == "hot-fix", "production only reports drift; it must not repair it")
        var reports: [String] = []
        let reported = try TestFleet.waitUntil(15) {
            reports = try Self.ledgerEntries(server).filter {
                $0["action"] as? String == "host-report" && $0["subject"] as? String == "s01"
            }.compactMap { ($0["details"] as? [String: String])?["event"] }
            return reports.contains("drift") && reports.contains("repaired")
        }
        #expect(reported, "\(reports)")
        // The evidence travelled: the repaired report, kept as the host signed it, holds the bytes.
        let kept = try liveDatabase("\(sandbox.root)/server/fixity.db").read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT r.body FROM host_reports r JOIN hosts h ON h.key_id = r.key_id WHERE h.name = 's01' AND r.event = 'repaired'"
            )
        }
        #expect(
            kept.contains { $0.contains(Base64.encode(Array("hot-fix\n".utf8))) },
            "the repaired report carries the hot-fix's bytes")

        // Every host's own ledger agrees with the server's answer for the environment.
        for (instant, version) in [(afterFirst, "1.0"), (afterSecond, "2.0")] {
            let answer = try server.client(["state", "--at", instant, "--env", "staging", "--json"], key: admin)
            #expect(answer.status == 0, "\(answer.stderr)")
            let environments = try #require(try answer.json()["environments"] as? [[String: Any]])
            #expect(environments.first?["release"] as? String == releases[version])
            for host in staging {
                let own = try sandbox.fixity(
                    ["state", "--at", instant, "--root", fleet.root(host), "--json"], store: fleet.store(host))
                let active = try own.json()["active"] as? [String: Any]
                #expect(active?["release"] as? String == releases[version], "\(host) at \(instant)")
            }
        }
        // The fleet in the server's metrics: hosts by state, the rollout, report latency.
        let metrics = try server.request("GET", "/metrics").body
        #expect(metrics.contains(#"fixity_hosts{env="staging",state="converged"}"#), "\(metrics.prefix(400))")
        #expect(metrics.contains("fixity_rollout_wave") && metrics.contains("fixity_report_latency_seconds"))
        let audit = try server.client(["log", "verify"], key: admin)
        #expect(audit.status == 0, "\(audit.stderr)")
    }
}
