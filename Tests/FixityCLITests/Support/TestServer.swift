import Foundation
import Testing

/// A real `fixity serve` on a loopback port the kernel picked, with its data folder in the
/// sandbox, for the life of one test; and curl to speak HTTP to it the way any client would.
final class TestServer {
    let sandbox: Sandbox
    let data: String
    /// The PostgreSQL database of a replicated server; nil for the embedded store.
    let database: String?
    let url: String
    let log: String
    private let process: Process

    init(
        in sandbox: Sandbox, data: String = "server", database: String? = nil, extra: [String] = [],
        listen: String = "127.0.0.1:0"
    ) throws {
        self.sandbox = sandbox
        self.data = data
        self.database = database
        let out = "\(sandbox.root)/serve-\(UUID().uuidString.prefix(8)).out"
        log = out + ".log"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.binary)
        process.arguments =
            ["serve", "--data", data, "--listen", listen] + (database.map { ["--database", $0] } ?? []) + extra
        process.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        var found: String?
        for _ in 0..<200 where found == nil {
            usleep(25_000)
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            found = text.split(separator: "\n").first { $0.hasPrefix("listening on ") }.map {
                String($0.dropFirst("listening on ".count))
            }
            if !process.isRunning { break }
        }
        guard let found else {
            process.terminate()
            let why = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw CocoaError(
                .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "fixity serve did not start: \(why)"])
        }
        url = found
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` and waits for the exit status.
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A new key on the server's data folder (effective at once on the running server).
    func makeKey(_ name: String, scopes: [String], expires: String = "1d") throws -> String {
        let made = try Sandbox.run(
            Sandbox.binary,
            ["server", "key", "create", "--data", data, "--name", name, "--expires", expires, "--json"]
                + (database.map { ["--database", $0] } ?? []) + scopes.flatMap { ["--scope", $0] }, in: sandbox.root)
        try #require(made.status == 0, "key create: \(made.stderr)")
        return try #require(try made.json()["key"] as? String)
    }

    struct Answer {
        let status: Int
        let body: String
        let headers: String
        func json() throws -> [String: Any] {
            try #require(
                try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not JSON: \(body)")
        }
        var errorMessage: String {
            ((try? json())?["error"] as? [String: Any])?["message"] as? String ?? ""
        }
    }

    /// One request with curl; `bodyFile` sends a file's bytes as they are.
    func request(
        _ method: String, _ path: String, key: String? = nil, json: String? = nil, bodyFile: String? = nil,
        contentType: String = "application/json", headers: [String: String] = [:]
    ) throws -> Answer {
        let stamp = UUID().uuidString.prefix(8)
        let bodyOut = "\(sandbox.root)/curl-\(stamp).body"
        let headersOut = "\(sandbox.root)/curl-\(stamp).headers"
        var args = ["-s", "-S", "-m", "120", "-X", method, "-o", bodyOut, "-D", headersOut, "-w", "%{http_code}"]
        if let key { args += ["-H", "Authorization: Bearer \(key)"] }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { args += ["-H", "\(name): \(value)"] }
        if let json {
            let file = "\(sandbox.root)/curl-\(stamp).json"
            try json.write(toFile: file, atomically: true, encoding: .utf8)
            args += ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(file)"]
        }
        if let bodyFile { args += ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(bodyFile)"] }
        let result = try Sandbox.run("/usr/bin/curl", args + [url + path], in: sandbox.root)
        defer {
            try? FileManager.default.removeItem(atPath: bodyOut)
            try? FileManager.default.removeItem(atPath: headersOut)
        }
        return Answer(
            status: Int(result.stdout) ?? -1,
            body: (try? String(contentsOfFile: bodyOut, encoding: .utf8)) ?? "",
            headers: (try? String(contentsOfFile: headersOut, encoding: .utf8)) ?? "")
    }

    /// `fixity ARGS --server URL` with the key in the environment, the way CI would run it.
    func client(_ args: [String], key: String, store: String? = nil) throws -> RunResult {
        try Sandbox.run(
            "/usr/bin/env",
            ["FIXITY_API_KEY=\(key)", Sandbox.binary] + args + ["--server", url, "--store", store ?? sandbox.store],
            in: sandbox.root)
    }

    /// `fixity push REF` to this server started in the background (for a test to cut it short).
    func startPush(_ ref: String, key: String) throws -> Process {
        let push = Process()
        push.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        push.arguments = [
            "FIXITY_API_KEY=\(key)", Sandbox.binary, "push", ref, "--server", url, "--store", sandbox.store,
        ]
        push.standardOutput = FileHandle.nullDevice
        push.standardError = FileHandle.nullDevice
        try push.run()
        return push
    }

    /// The server's ledger entries, one JSON object a line (the server may keep running): `log
    /// export` of the embedded store, or the rows of a replicated server's database.
    func ledger() throws -> String {
        if let database {
            return try Sandbox.run(
                "/usr/bin/psql",
                [
                    database, "-At", "-c",
                    "SELECT json_build_object('seq', seq, 'action', action, 'subject', subject, 'details', details::json) FROM ledger_entries ORDER BY seq",
                ], in: sandbox.root
            ).stdout
        }
        return try Sandbox.run(Sandbox.binary, ["log", "export", "--store", data], in: sandbox.root).stdout
    }
}
