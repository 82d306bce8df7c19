import Foundation
import Testing

/// A PostgreSQL cluster of one test's own (initdb on a free loopback port, as `scripts/test`
/// makes the shared one), so the test may stop and start it without disturbing any other.
final class OwnPostgres {
    let folder: String
    let port: Int
    let bin: String

    static var available: Bool {
        getuid() == 0 && (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.isEmpty == false
    }

    init() throws {
        let versions = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted {
            (Int($0) ?? 0) < (Int($1) ?? 0)
        }
        bin = "/usr/lib/postgresql/\(try #require(versions.last))/bin"
        folder = "/tmp/fixity-own-pg-\(UUID().uuidString.prefix(8))"
        port =
            Int(
                try Sandbox.shell(
                    "python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'"
                ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let made = try Sandbox.shell(
            "mkdir -p \(folder) && chown postgres \(folder) && su postgres -s /bin/sh -c '\(bin)/initdb -D \(folder)/data -A trust -U fixity >/dev/null'"
        )
        try #require(made.status == 0, "initdb: \(made.stderr)")
        try start()
    }

    deinit {
        _ = try? Sandbox.shell(
            "su postgres -s /bin/sh -c '\(bin)/pg_ctl -D \(folder)/data -m immediate stop' >/dev/null 2>&1; rm -rf \(folder)"
        )
    }

    var url: String { "postgres://fixity@127.0.0.1:\(port)/postgres" }

    func start() throws {
        // Through Python's close_fds: the postmaster must not inherit the test process's
        // descriptors (Foundation's Process then never sees its shell end).
        let command =
            "\(bin)/pg_ctl -D \(folder)/data -o '-p \(port) -k \(folder) -c listen_addresses=127.0.0.1' -l \(folder)/log -w start"
        let started = try Sandbox.run(
            "/usr/bin/python3",
            [
                "-c",
                "import subprocess, sys; sys.exit(subprocess.run(['su', 'postgres', '-s', '/bin/sh', '-c', sys.argv[1]], stdout=subprocess.DEVNULL, close_fds=True).returncode)",
                command,
            ], in: "/")
        try #require(started.status == 0, "pg_ctl start: \(started.stderr)")
    }

    func stop() throws {
        let stopped = try Sandbox.shell(
            "su postgres -s /bin/sh -c '\(bin)/pg_ctl -D \(folder)/data -m fast stop' >/dev/null")
        try #require(stopped.status == 0, "pg_ctl stop: \(stopped.stderr)")
    }
}

/// Issue 29, item 1: a replica outlives its database's restart. While PostgreSQL is down,
/// `/readyz` answers 503 within a second and keyed routes 503 (not a hang); once it is back the
/// replica answers again within seconds, without a restart of its own; SIGTERM ends it promptly
/// whatever it was waiting on.
@Suite(
    .enabled(
        if: OwnPostgres.available || ProcessInfo.processInfo.environment["CI"] == "true",
        "needs root and Debian's postgresql (initdb) to run a cluster of the test's own"))
struct PostgresRestartTests {
    @Test func aReplicaRecoversFromADatabaseRestartUnderLoad() throws {
        let postgres = try OwnPostgres()
        let sandbox = try Sandbox()
        let server = try TestServer(in: sandbox, data: "replica", database: postgres.url)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        #expect(try server.request("GET", "/readyz").status == 200)

        // Load: four clients asking a keyed route back to back (at most 20,000 requests each, ended
        // by the stop file), through the whole outage.
        let statuses = "\(sandbox.root)/load.statuses"
        let stopFile = "\(sandbox.root)/load.stop"
        // One process a client, each a plain loop: a shell's `wait` never returns under the
        // signal mask a test process hands its children (SIGCHLD blocked).
        let loads = try (1...4).map { client -> Process in
            let load = Process()
            load.executableURL = URL(fileURLWithPath: "/bin/sh")
            load.arguments = [
                "-c",
                """
                for i in $(seq 1 20000); do
                  [ -e \(stopFile) ] && break
                  curl -s -o /dev/null -m 5 -w '%{http_code}\\n' -H 'Authorization: Bearer \(admin)' \(server.url)/v1/releases >> \(statuses).\(client)
                done
                """,
            ]
            try load.run()
            return load
        }
        defer {
            FileManager.default.createFile(atPath: stopFile, contents: nil)
            for load in loads { load.waitUntilExit() }
        }

        try postgres.stop()
        for _ in 0..<3 {
            let asked = Date()
            let ready = try server.request("GET", "/readyz")
            #expect(ready.status == 503, "readyz with the database down: \(ready.status) \(ready.body)")
            #expect(Date().timeIntervalSince(asked) < 2, "readyz took \(Date().timeIntervalSince(asked)) s")
        }
        let keyed = try server.request("GET", "/v1/releases", key: admin)
        #expect(keyed.status == 503, "a keyed route with the database down: \(keyed.status) \(keyed.body)")
        #expect(keyed.headers.lowercased().contains("retry-after"), "\(keyed.headers)")

        try postgres.start()
        let back = TestFleet.waitUntil(15) {
            (try? server.request("GET", "/readyz").status) == 200
                && (try? server.request("GET", "/v1/releases", key: admin).status) == 200
        }
        #expect(back, "the replica did not recover after the database came back")
        // Neither the outage nor the load counted as failed authentications.
        let after = try server.request("GET", "/v1/releases", key: admin)
        #expect(after.status == 200, "\(after.status) \(after.body)")
        FileManager.default.createFile(atPath: stopFile, contents: nil)
        for load in loads { load.waitUntilExit() }
        var counts: [String: Int] = [:]
        for client in 1...4 {
            let text = (try? String(contentsOfFile: "\(statuses).\(client)", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        }
        #expect(counts["200", default: 0] > 0 && counts["503", default: 0] > 0, "\(counts)")
        #expect(counts["429"] == nil && counts["500"] == nil && counts["000"] == nil, "\(counts)")

        let asked = Date()
        #expect(server.stop(SIGTERM) == 0)
        #expect(Date().timeIntervalSince(asked) < 10, "SIGTERM took \(Date().timeIntervalSince(asked)) s")
    }
}
