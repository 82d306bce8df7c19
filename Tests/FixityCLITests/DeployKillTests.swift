import Foundation
import Testing

/// SIGKILL deploys and rollbacks at random moments: after every kill, `current` resolves to a
/// complete deployment that matches its manifests, the ledger verifies, and the next deploy succeeds.
@Suite struct DeployKillTests {
    @Test func killedDeploysNeverLeaveAnIncompleteCurrent() throws {
        let sandbox = try Sandbox()
        for n in 1...3 {
            try sandbox.sh(
                "mkdir -p k\(n) && for d in $(seq 1 15); do mkdir -p k\(n)/d$d; for f in $(seq 1 20); do echo \"v\(n) $d $f\" > k\(n)/d$d/f$f; done; done && echo v\(n) > k\(n)/VERSION && head -c 3000000 /dev/urandom > k\(n)/blob"
            )
            _ = try sandbox.seal("k\(n)", extra: ["--tag", "\(n)"])
        }
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        for round in 0..<50 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Sandbox.binary)
            let version = round % 3 + 1
            process.arguments =
                round % 5 == 4
                ? ["rollback", "--root", "\(sandbox.root)/root", "--store", sandbox.store]
                : [
                    "deploy", "app@\(version)", "--root", "\(sandbox.root)/root", "--store", sandbox.store, "--keep",
                    "1", "--link", "copy",
                ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: Double.random(in: 0.0...0.25, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
            let problems = try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root")
            #expect(problems.isEmpty, "round \(round): \(problems.prefix(5))")
            #expect(
                FileManager.default.fileExists(atPath: "\(sandbox.root)/root/current"),
                "round \(round): current vanished")
            // The ledger entry and its Merkle nodes share the change's transaction: a kill leaves both or neither.
            let ledger = try sandbox.fixity("log", "verify")
            #expect(ledger.status == 0, "round \(round): \(ledger.stdout) \(ledger.stderr)")
        }
        #expect(kills >= 10, "too few deploys were interrupted (\(kills)) for the test to mean anything")
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root").status == 0)
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
        #expect(try sandbox.fixity("fsck").status == 0)
        #expect(
            try sandbox.sh("ls -A root/deployments | grep -c -e incoming -e removing || true").stdout
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }
}
