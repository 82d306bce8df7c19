import Foundation
import Testing

/// `fixity watch` as a monitoring system runs it: a background process, JSON lines on stdout.
@Suite struct WatchTests {
    final class Watch {
        let process = Process()
        let output: String

        init(_ sandbox: Sandbox, _ extra: [String]) throws {
            output = "\(sandbox.root)/watch.out"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            process.executableURL = URL(fileURLWithPath: Sandbox.binary)
            process.arguments = ["watch", "--root", "\(sandbox.root)/root", "--store", sandbox.store] + extra
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var lines: [[String: Any]] {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        /// Waits up to `seconds` for a line with `event`; returns it and how long it took.
        func await(_ event: String, after count: Int = 0, seconds: Double) -> ([String: Any], Double)? {
            let start = Date()
            while Date().timeIntervalSince(start) < seconds {
                if let line = lines.dropFirst(count).first(where: { $0["event"] as? String == event }) {
                    return (line, Date().timeIntervalSince(start))
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return nil
        }

        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// A deploy's switch is not drift: `watch --repair` running through twelve deploys must
    /// never "repair" the new deployment back to the old one, nor fail, and each switch ends
    /// with the live tree clean and `current` on what was deployed last.
    @Test func watchWithRepairNeverFightsADeploy() throws {
        let sandbox = try DriftTests().deployed()
        try sandbox.sh("cp -a src src2 && echo 'module.exports = 2' > src2/lib/a.js && echo two > src2/VERSION")
        _ = try sandbox.seal("src2", extra: ["--tag", "2"])
        let watch = try Watch(sandbox, ["--repair"])
        defer { _ = watch.stop() }
        try #require(watch.await("clean", seconds: 20) != nil, "watch never started")
        for round in 0..<12 {
            let deploy = try sandbox.fixity("deploy", "app@\(round % 2 == 0 ? 2 : 1)", "--root", "root")
            #expect(deploy.status == 0, "round \(round): \(deploy.stderr)")
        }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(watch.process.isRunning, "watch died during the deploys")
        let repairs = watch.lines.filter { $0["event"] as? String == "repaired" }
        #expect(repairs.isEmpty, "watch repaired during deploys: \(repairs)")
        // The last of the twelve deploys was app@1.
        #expect(try sandbox.sh("cat root/current/lib/a.js").stdout == "module.exports = 1\n")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
        #expect(try sandbox.fixity("log", "verify").status == 0)
        #expect(watch.stop() == 0)
    }

    @Test func aWriteIsReportedWithinASecondAndHealedWithRepair() throws {
        let sandbox = try DriftTests().deployed()
        let watch = try Watch(sandbox, ["--repair", "--metrics-file", "\(sandbox.root)/fixity.prom"])
        defer { _ = watch.stop() }
        try #require(watch.await("clean", seconds: 20) != nil, "watch never started")
        try sandbox.sh("echo 'hotfix' > root/current/lib/a.js")
        let drift = try #require(watch.await("drift", seconds: 5))
        #expect(drift.1 < 1.0, "drift reported after \(drift.1) s")
        #expect(drift.0["modified"] as? [String] == ["lib/a.js"])
        let repaired = try #require(watch.await("repaired", seconds: 5))
        #expect(repaired.0["clean"] as? Bool == true)
        #expect(!((repaired.0["evidence"] as? String) ?? "").isEmpty)
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
        let metrics = try String(contentsOfFile: "\(sandbox.root)/fixity.prom", encoding: .utf8)
        #expect(
            metrics.contains("# TYPE fixity_drift gauge") && metrics.contains("fixity_drift{root=")
                && metrics.contains("} 0\n"))
        #expect(watch.stop() == 0, "watch did not stop cleanly on SIGTERM")
    }

    @Test func watchSurvivesFoldersCreatedAndDeletedUnderIt() throws {
        let sandbox = try DriftTests().deployed()
        let watch = try Watch(sandbox, [])
        defer { _ = watch.stop() }
        try #require(watch.await("clean", seconds: 20) != nil)
        try sandbox.sh("mkdir root/current/lib/tmpdir && rmdir root/current/lib/tmpdir")
        Thread.sleep(forTimeInterval: 0.3)
        let seen = watch.lines.count
        // A file inside a folder created after the watch started is still seen.
        try sandbox.sh("mkdir root/current/lib/newdir && sleep 0.2 && echo x > root/current/lib/newdir/file")
        let drift = try #require(watch.await("drift", after: seen, seconds: 5))
        #expect((drift.0["added"] as? [String])?.contains("lib/newdir") == true)
        Thread.sleep(forTimeInterval: 0.3)
        let last = try #require(watch.lines.last)
        #expect((last["added"] as? [String])?.contains("lib/newdir/file") == true, "\(last)")
        try sandbox.sh("rm -r root/current/lib/newdir")
        #expect(watch.await("clean", after: seen, seconds: 5) != nil)
        #expect(watch.stop() == 0)
    }
}
