import FixityCore
import Foundation
import Testing

/// A fleet on one machine for the agent tests (docs/agent.md): hosts enrolled with the built
/// binary, each its own store and root, agents running as processes — on loopback, or inside
/// a network namespace the fleet made (`ip netns`, a veth pair, a relay on the host side that
/// forwards to the server on loopback). Everything it made is removed by `close()`.
final class TestFleet {
    let sandbox: Sandbox
    private(set) var agents: [String: Process] = [:]
    private var namespaces: [String] = []
    private var relays: [Process] = []

    init(_ sandbox: Sandbox) { self.sandbox = sandbox }

    deinit { close() }

    func close() {
        for agent in agents.values where agent.isRunning {
            kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
        }
        agents.removeAll()
        // SIGKILL: a child of the test process may inherit a mask that blocks SIGTERM.
        for relay in relays where relay.isRunning {
            kill(relay.processIdentifier, SIGKILL)
            relay.waitUntilExit()
        }
        relays.removeAll()
        for name in namespaces {
            _ = try? Sandbox.shell("ip netns del \(name) 2>/dev/null; ip link del \(name)-h 2>/dev/null")
        }
        namespaces.removeAll()
    }

    func store(_ host: String) -> String { "\(sandbox.root)/\(host).store" }
    func root(_ host: String) -> String { "\(sandbox.root)/\(host).root" }
    func identity(_ host: String) -> String { "\(sandbox.root)/\(host).id" }
    func log(_ host: String) -> String { "\(sandbox.root)/\(host).agent.log" }

    /// Whether namespaces can be made here (root and iproute2); CI must be able to.
    static var canUseNamespaces: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && ((try? Sandbox.shell("ip netns list >/dev/null 2>&1").status) == 0)
    }

    /// `fixity host enroll` for `host` in `env`, pinning `roots` (policy root public keys).
    func enroll(_ host: String, env: String, server: TestServer, key: String, roots: [String], threshold: Int) throws {
        let result = try server.client(
            ["host", "enroll", "--env", env, "--name", host, "--identity", identity(host)]
                + roots.flatMap { ["--policy-root", $0] } + ["--policy-root-threshold", String(threshold)],
            key: key, store: store(host))
        try #require(result.status == 0, "enroll \(host): \(result.stderr)")
    }

    /// A namespace `name` with a veth pair 10.77.N.0/30 and a relay on the host side to the
    /// server's loopback port; returns the URL the agent inside uses.
    func namespace(_ name: String, index: Int, serverPort: Int) throws -> String {
        let host = "10.77.\(index).1"
        let inside = "10.77.\(index).2"
        namespaces.append(name)
        try sandbox.sh(
            """
            ip netns add \(name)
            ip link add \(name)-h type veth peer name \(name)-n
            ip link set \(name)-n netns \(name)
            ip addr add \(host)/30 dev \(name)-h
            ip link set \(name)-h up
            ip netns exec \(name) ip addr add \(inside)/30 dev \(name)-n
            ip netns exec \(name) ip link set \(name)-n up
            ip netns exec \(name) ip link set lo up
            """)
        let relay = try startRelay(listen: "\(host):0", to: "127.0.0.1:\(serverPort)")
        return relay.url
    }

    /// Cuts a namespace off (its link down) or brings it back.
    func setLink(_ name: String, up: Bool) throws {
        try sandbox.sh("ip link set \(name)-h \(up ? "up" : "down")")
    }

    /// tests/fleet/relay.py between an agent and the server.
    func startRelay(listen: String, to: String, extra: [String] = []) throws -> (process: Process, url: String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tests/fleet/relay.py").path
        let out = "\(sandbox.root)/relay-\(UUID().uuidString.prefix(8)).out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--listen", listen, "--to", to] + extra
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = FileHandle.nullDevice
        try process.run()
        relays.append(process)
        for _ in 0..<200 {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                return (process, "http://" + line.dropFirst("listening on ".count))
            }
            usleep(25_000)
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "relay did not start"])
    }

    /// Starts `fixity agent` for `host` (inside `namespace` when given).
    func start(_ host: String, server url: String, namespace: String? = nil, interval: String = "2s") throws {
        let process = Process()
        let agent = [
            Sandbox.binary, "agent", "--server", url, "--root", root(host), "--identity", identity(host),
            "--store", store(host), "--interval", interval,
        ]
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace] + agent
        } else {
            process.executableURL = URL(fileURLWithPath: agent[0])
            process.arguments = Array(agent.dropFirst())
        }
        _ = FileManager.default.createFile(atPath: log(host), contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log(host)))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        agents[host] = process
    }

    /// `fixity agent --once` for `host` against `url`.
    func once(_ host: String, server url: String, extra: [String] = []) throws -> RunResult {
        try Sandbox.run(
            Sandbox.binary,
            [
                "agent", "--once", "--server", url, "--root", root(host), "--identity", identity(host), "--store",
                store(host),
            ] + extra,
            in: sandbox.root)
    }

    /// What the live tree of `host` serves.
    func content(_ host: String, _ file: String = "index.html") -> String {
        ((try? String(contentsOfFile: "\(root(host))/current/\(file)", encoding: .utf8)) ?? "<none>")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `env show ENV --json`'s hosts, by name.
    func hosts(_ env: String, server: TestServer, key: String) throws -> [String: [String: Any]] {
        let shown = try server.client(["env", "show", env, "--json"], key: key)
        try #require(shown.status == 0, "env show: \(shown.stderr)")
        let hosts = try #require(try shown.json()["hosts"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: hosts.map { ($0["name"] as! String, $0) })
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass; the last value.
    @discardableResult
    static func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }
}

extension TestFleet {
    /// Kills `host`'s agent (SIGKILL: as a host that loses power).
    func stop(_ host: String) {
        guard let agent = agents[host] else { return }
        if agent.isRunning {
            Foundation.kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
        }
    }
}
