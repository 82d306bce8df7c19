import FixityApp
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import Foundation
import Testing

/// The use cases as a server or an agent calls them: from async code, many at once, their
/// blocking work on the thread pool. The results are the CLI's, and the ledger behind them is one
/// unforked tree.
@Suite struct AppAsyncTests {
    @Test func useCasesRunConcurrentlyFromAsyncCode() async throws {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "for n in 1 2 3 4 5 6; do mkdir -p src$n/lib && echo v$n > src$n/VERSION && echo x > src$n/lib/a; done")
        let store = try Store.open(at: sandbox.store)
        let app = try AppName(parsing: "web")
        let top = sandbox.root
        // Six seals at once, from the cooperative pool.
        let releases = try await withThrowingTaskGroup(of: (Int, SealRelease.Result).self) { group in
            for n in 1...6 {
                group.addTask {
                    (n, try await SealRelease(directory: "\(top)/src\(n)", app: app, tag: "\(n)").run(in: store))
                }
            }
            var byVersion = [Int: SealRelease.Result]()
            for try await (n, result) in group { byVersion[n] = result }
            return byVersion
        }
        #expect(releases.count == 6)
        #expect(Set(releases.values.map(\.report.release)).count == 6, "six trees, six releases")
        #expect(releases.values.allSatisfy { $0.provenance != nil }, "each new release gets its provenance")
        // The same answer the CLI gives for a tag.
        let shown = try sandbox.fixity("show", "web@3", "--json").json()
        #expect(shown["release"] as? String == releases[3]?.report.release.description)

        // Deploy two of them to two roots at once, then verify both, all awaited.
        let roots = try (1...2).map { try DeployRoot(path: "\(sandbox.root)/root\($0)") }
        let deployed = try await withThrowingTaskGroup(of: DeployOutcome.self) { group in
            for (index, root) in roots.enumerated() {
                let release = releases[index + 1]!.report.release
                group.addTask { try await DeployRelease(DeployRequest(release: release), to: root).run(in: store) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(deployed.allSatisfy { $0.result == .activated })
        try sandbox.sh("echo tampered >> root2/current/VERSION")
        let verified = try await withThrowingTaskGroup(of: (String, VerifyOutcome).self) { group in
            for root in roots { group.addTask { (root.path, try await VerifyRoot(root).run(in: store)) } }
            return try await group.reduce(into: [String: VerifyOutcome]()) { $0[$1.0] = $1.1 }
        }
        #expect(verified[roots[0].path]?.clean == true)
        #expect(verified[roots[1].path]?.report.modified == ["VERSION"])
        let repaired = try await RepairRoot(roots[1]).run(in: store)
        #expect(repaired.clean && repaired.evidence != nil)

        // One ledger under all of it: dense, verifying, and it says what happened.
        let verification = try store.ledger.verify()
        #expect(verification.ok)
        let cli = try sandbox.fixity("log", "verify")
        #expect(cli.status == 0, "\(cli.stderr)")
    }
}
