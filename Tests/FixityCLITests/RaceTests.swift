import Foundation
import Testing

/// Operations racing each other: concurrent seals sharing blobs, gc during a seal, readers of
/// `current` during a thousand switches.
@Suite struct RaceTests {
    /// Starts `fixity ARGS --store STORE` without waiting (shell job control is avoided: test
    /// processes inherit a signal mask under which dash's `wait` can hang).
    func spawn(_ sandbox: Sandbox, _ args: [String], output: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.binary)
        process.arguments = args + ["--store", sandbox.store]
        process.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
        _ = FileManager.default.createFile(atPath: "\(sandbox.root)/\(output)", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(sandbox.root)/\(output)"))
        process.standardError = process.standardOutput
        try process.run()
        return process
    }

    func tree(_ sandbox: Sandbox, _ dir: String, shared: Int, own: Int) throws {
        try sandbox.sh(
            """
            mkdir -p \(dir)/shared \(dir)/own && for i in $(seq 1 \(shared)); do echo "shared $i" > \(dir)/shared/f$i; done \
            && for i in $(seq 1 \(own)); do echo "\(dir) $i $RANDOM" > \(dir)/own/f$i; done && head -c 1500000 /dev/zero > \(dir)/shared/zeros
            """)
    }

    @Test func twoSealsSharingBlobsAtOnce() throws {
        let sandbox = try Sandbox()
        try tree(sandbox, "a", shared: 300, own: 50)
        try tree(sandbox, "b", shared: 300, own: 50)
        let a = try spawn(sandbox, ["seal", "a", "--app", "a"], output: "a.out")
        let b = try spawn(sandbox, ["seal", "b", "--app", "b"], output: "b.out")
        a.waitUntilExit()
        b.waitUntilExit()
        let logs = try sandbox.sh("cat a.out b.out").stdout
        #expect(a.terminationStatus == 0 && b.terminationStatus == 0, "\(logs)")
        #expect(try sandbox.fixity("fsck").status == 0)
        let releases = try sandbox.fixity("releases", "--json").json()["releases"] as? [[String: Any]] ?? []
        #expect(releases.count == 2)
        for release in releases {
            let id = release["release"] as? String ?? ""
            #expect(
                try sandbox.fixity("export", id, "out-\(id.suffix(8))").status == 0,
                "every object of \(id) is present and intact")
        }
    }

    @Test func gcDuringASealNeverRemovesWhatTheSealReferences() throws {
        let sandbox = try Sandbox()
        try tree(sandbox, "src", shared: 400, own: 400)
        // gc in a tight loop for as long as the seal runs.
        let seal = try spawn(sandbox, ["seal", "src", "--app", "app", "--tag", "1"], output: "seal.out")
        var gcRuns = 0
        while seal.isRunning {
            let gc = try spawn(sandbox, ["gc"], output: "gc.out")
            gc.waitUntilExit()
            gcRuns += 1
        }
        let log = try sandbox.sh("cat seal.out").stdout
        #expect(seal.terminationStatus == 0, "\(log)")
        #expect(gcRuns >= 1)
        #expect(try sandbox.fixity("fsck").status == 0)
        #expect(
            try sandbox.fixity("export", "app@1", "out").status == 0, "every object of the release survived the gc runs"
        )
    }

    @Test func aReaderOfCurrentNeverSeesAMissingFileDuringAThousandSwitches() throws {
        let sandbox = try Sandbox()
        for n in 1...2 {
            try sandbox.sh("mkdir -p v\(n)/conf && echo v\(n) > v\(n)/VERSION && echo conf\(n) > v\(n)/conf/app.conf")
            _ = try sandbox.seal("v\(n)", app: "app", extra: ["--tag", "\(n)"])
        }
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root").status == 0)
        let script = """
            import os, sys, time
            misses, reads, seen = 0, 0, set()
            while not os.path.exists("switched"):
                for name in ("root/current/VERSION", "root/current/conf/app.conf"):
                    try:
                        with open(name) as f: seen.add(f.read().strip())
                        reads += 1
                    except OSError as e:
                        misses += 1; print("miss", name, e, file=sys.stderr)
            print(misses, reads, len(seen))
            """
        try script.write(toFile: "\(sandbox.root)/reader.py", atomically: true, encoding: .utf8)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        reader.arguments = ["python3", "reader.py"]
        reader.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
        _ = FileManager.default.createFile(atPath: "\(sandbox.root)/reader.out", contents: nil)
        _ = FileManager.default.createFile(atPath: "\(sandbox.root)/reader.err", contents: nil)
        reader.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(sandbox.root)/reader.out"))
        reader.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(sandbox.root)/reader.err"))
        try reader.run()
        usleep(200_000)
        let switches = try sandbox.fixity("bench-switch", "--root", "root", "--count", "1000")
        #expect(switches.status == 0, "\(switches.stderr)")
        _ = FileManager.default.createFile(atPath: "\(sandbox.root)/switched", contents: nil)
        reader.waitUntilExit()
        let result = try sandbox.sh("cat reader.out")
        let fields = result.stdout.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(fields.count == 3)
        let misses = try sandbox.sh("head -5 reader.err").stdout
        #expect(fields.first == 0, "reads that found nothing: \(misses)")
        #expect((fields.dropFirst().first ?? 0) > 100, "the reader ran during the switches")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
    }
}
