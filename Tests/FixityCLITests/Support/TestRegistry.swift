import Foundation
import Testing

/// A CNCF Distribution registry (Debian's docker-registry) on a loopback port with its storage
/// in the sandbox, for the life of one test.
final class TestRegistry {
    let port: Int
    var address: String { "127.0.0.1:\(port)" }

    init(in sandbox: Sandbox, auth: (user: String, password: String)? = nil) throws {
        let binary = "/usr/bin/docker-registry"
        try #require(
            FileManager.default.isExecutableFile(atPath: binary),
            "docker-registry is not installed (apt-get install docker-registry; .ci/run does)")
        var lastError = ""
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...40_000)
            var config = """
                version: 0.1
                log:
                  level: warn
                storage:
                  filesystem:
                    rootdirectory: \(sandbox.root)/registry-\(port)
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:\(port)

                """
            if let auth {
                let hash = try sandbox.sh(
                    "python3 -W ignore -c \"import crypt; print(crypt.crypt('\(auth.password)', crypt.mksalt(crypt.METHOD_BLOWFISH)))\""
                ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                try "\(auth.user):\(hash)\n".write(
                    toFile: "\(sandbox.root)/htpasswd-\(port)", atomically: true, encoding: .utf8)
                config += "auth:\n  htpasswd:\n    realm: fixity-test\n    path: \(sandbox.root)/htpasswd-\(port)\n"
            }
            try config.write(toFile: "\(sandbox.root)/registry-\(port).yml", atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve", "\(sandbox.root)/registry-\(port).yml"]
            let log = "\(sandbox.root)/registry-\(port).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardError = process.standardOutput
            try process.run()
            for _ in 0..<100 {
                usleep(50_000)
                let probe = try Sandbox.shell(
                    "python3 -c \"import urllib.request as u, urllib.error as e\ntry: u.urlopen('http://127.0.0.1:\(port)/v2/')\nexcept e.HTTPError as x: print(x.code)\nexcept Exception: print('down')\nelse: print(200)\""
                )
                let code = probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                if code == "200" || code == "401" {
                    self.port = port
                    running = process
                    return
                }
                if !process.isRunning { break }
            }
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            process.terminate()
            process.waitUntilExit()
        }
        throw CocoaError(
            .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "the test registry did not start: \(lastError)"])
    }

    private var running: Process?

    deinit {
        running?.terminate()
        running?.waitUntilExit()
    }
}
