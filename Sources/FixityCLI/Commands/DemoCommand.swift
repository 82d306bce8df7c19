import ArgumentParser
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import FixityTrust
import Foundation

/// The whole story in a temporary folder: build output → sealed release → a change → a second
/// release → what changed → a verified export → a clean fsck → deploy → a broken release caught by
/// its health check and rolled back automatically → a good one → a manual rollback → a hot-fix
/// caught by verify and repaired with its evidence kept → a policy that production enforces:
/// refused unsigned, then tested, staged, signed twice and promoted by digest → the ledger proves
/// what was live at a past instant, and a release's proof bundle checks out offline → a control
/// plane (`fixity serve`, its own process) takes a signed policy, a push and a promotion to
/// staging, and refuses production.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run Fixity's story end to end in a temporary folder.")

    @Flag(help: "Keep the temporary folder (its path is printed) instead of removing it.")
    var keep = false

    @Flag(name: .long, help: "Print a JSON summary instead of the narrative.")
    var json = false

    struct Summary: Encodable {
        let folder: String
        let v1: SealReport
        let v2: SealReport
        let diff: [String: [String]]
        let fsckClean: Bool
        let deploys: [DeployOutcome]

        enum CodingKeys: String, CodingKey { case folder, v1, v2, diff, fsckClean = "fsck_clean", deploys }
    }

    func run() throws {
        try runReportingFailures {
            let work = try DemoTree.makeTemporaryFolder()
            defer { if !keep { try? FileManager.default.removeItem(atPath: work) } }
            let say: @Sendable (String) -> Void = { [json] in if !json { Output.line($0) } }
            let store = try Store.open(at: "\(work)/store")
            let app = try AppName(parsing: "shop")

            say("Fixity demo in \(work)\n")
            try DemoTree.writeVersion1(at: "\(work)/build")
            say("1. A build produced \(work)/build. Seal it:  fixity seal build --app shop --tag 1.0")
            let v1 = try store.seal(directory: "\(work)/build", app: app, tag: "1.0")
            say("   release \(v1.release)\n   \(v1.files) files, \(v1.bytes) bytes, \(v1.newBlobs) blobs stored\n")

            say("2. Seal the same tree again: same id, nothing new stored (the stat cache skips re-hashing).")
            let again = try store.seal(directory: "\(work)/build", app: app, tag: nil)
            say(
                "   release \(again.release) (\(again.release == v1.release ? "same" : "DIFFERENT!")), \(again.newBlobs) new blobs, \(again.hashedFiles) files hashed\n"
            )

            say("3. The next build changes a file, adds one, removes one and makes a script executable.")
            try DemoTree.applyVersion2(at: "\(work)/build")
            let v2 = try store.seal(directory: "\(work)/build", app: app, tag: "1.1")
            say(
                "   release \(v2.release)\n   \(v2.newBlobs) new blobs (\(v2.newBytes) bytes): only what changed is stored\n"
            )

            say("4. What changed between shop@1.0 and shop@1.1:  fixity diff shop@1.0 shop@1.1")
            let diff = ManifestDiff(from: try store.manifest(v1.release), to: try store.manifest(v2.release))
            for kind in [ChangeKind.added, .removed, .modified, .modeChanged, .typeChanged] {
                for path in diff.paths(kind) {
                    say("   \(kind.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(path)")
                }
            }

            say("\n5. Export shop@1.0 anywhere, every byte verified against its digest:  fixity export shop@1.0 out")
            try store.export(v1.release, to: "\(work)/export-1.0")
            let resealed = try Store.open(at: "\(work)/store-elsewhere").seal(
                directory: "\(work)/export-1.0", app: app, tag: nil)
            say(
                "   re-sealed in a fresh store: \(resealed.release == v1.release ? "same id" : "DIFFERENT id") \(resealed.release.short) (same tree, same id, any machine)\n"
            )

            say("6. Check the store:  fixity fsck")
            let report = try store.fsck()
            say("   \(report.objects) objects re-hashed: \(report.clean ? "no problems" : "PROBLEMS FOUND")\n")

            try FileManager.default.createDirectory(atPath: "\(work)/srv", withIntermediateDirectories: true)
            let rootPath = "\(work)/srv/shop"
            let deployer = Deployer(store: store, root: try DeployRoot(path: rootPath))
            func deploy(_ release: ReleaseID) throws -> DeployOutcome {
                var request = DeployRequest(release: release)
                request.healthCommand = "sh bin/health"
                request.env = "production"
                return try deployer.deploy(request)
            }
            say(
                "7. Deploy shop@1.0 with a health check:  fixity deploy shop@1.0 --root srv/shop --health-cmd 'sh bin/health'"
            )
            let d1 = try deploy(v1.release)
            say(
                "   srv/shop/current -> deployments/\(d1.deployment.short)…  every byte verified, switched atomically, health check passed\n"
            )

            say("8. A broken build 1.2 (the cart lost its handler) is sealed and deployed:")
            try DemoTree.applyBrokenBuild(at: "\(work)/build")
            let broken = try store.seal(directory: "\(work)/build", app: app, tag: "1.2")
            let d2 = try deploy(broken.release)
            say(
                "   health check: exit \(d2.health?.exitCode.map(String.init) ?? "?") -> \(d2.result.rawValue), current is back on \(d2.rolledBackTo?.short ?? "nothing") (shop@1.0); 1.2 is marked known-bad\n"
            )

            say("9. Deploy the good shop@1.1:")
            let d3 = try deploy(v2.release)
            say("   \(d3.result.rawValue): current -> \(d3.deployment.short), health check passed\n")

            say("10. Roll back by hand:  fixity rollback --root srv/shop")
            let back = try deployer.rollback(to: nil, lockTimeout: 10)
            say("   current -> \(back.deployment.short) (shop@1.0 again): a symlink switch, nothing copied")
            let version = (try? String(contentsOfFile: "\(rootPath)/current/VERSION", encoding: .utf8)) ?? "?"
            say("   srv/shop/current/VERSION says \(version.trimmingCharacters(in: .whitespacesAndNewlines))\n")

            say("11. 3 a.m.: an emergency hot-fix is typed straight into production.")
            let hotfix = "exports.handle = (req, res) => { res.end('cart v1 + quick fix'); };\n"
            try DemoTree.hotfix(at: "\(rootPath)/current", content: hotfix)
            let root = try DeployRoot(path: rootPath, create: false)
            let drift = try DriftScanner(store: store, root: root).scan(full: false)
            try RootState(store: store, root: root).recordDrift(drift)
            say(
                "   fixity verify --root srv/shop  ->  \(drift.clean ? "clean (MISSED!)" : "DRIFT: modified \(drift.report.modified.joined(separator: ", ")), added \(drift.report.added.joined(separator: ", "))")\n"
            )

            say("12. Repair it, keeping what was typed as evidence:  fixity repair --root srv/shop")
            let repaired = try Repairer(store: store, root: root).repair(full: false, lockTimeout: 10)
            let record = try Evidence.list(store: store).first { $0.id == repaired.evidence }
            say(
                "   restored \(repaired.restored.joined(separator: ", ")), removed \(repaired.removed.joined(separator: ", ")); tree clean again: \(repaired.clean)"
            )
            say(
                "   evidence \(repaired.evidence ?? "-"): \(record?.files.map { "\($0.path) (\($0.digest?.short ?? "-"))" }.joined(separator: ", ") ?? "")"
            )
            say("   the hot-fix is kept for the post-mortem; fixity adopt would seal it as a release instead\n")

            say(
                "13. From now on production takes only what two people signed, what passed its tests, and what ran in staging first."
            )
            let ci = SigningKey.generate()
            let alice = SigningKey.generate()
            let policyText = """
                [keys]
                ci = "\(ci.publicKey.policyText)"
                alice = "\(alice.publicKey.policyText)"

                [environments.staging]
                trusted_keys = ["ci", "alice"]
                threshold = 1

                [environments.staging.access]
                approvals = 2
                approvers = ["alice", "bob"]
                max_ttl = "1h"
                deny_commands = ["^rm -rf /", "mkfs", "^dd "]
                after = "revert"

                [environments.production]
                trusted_keys = ["ci", "alice"]
                threshold = 2
                require_known_good_in = ["staging"]
                require_tests = true

                """
            _ = try PolicyFile.parse(policyText, name: "demo policy")
            let policy = try store.setPolicy(text: policyText, summary: ["environments": "production,staging"])
            say("   fixity policy set policy.toml  ->  policy \(policy.digest.short) in force")
            try DemoTree.applyVersion3(at: "\(work)/build")
            let v3 = try store.seal(directory: "\(work)/build", app: app, tag: "1.3")
            let v3Statement = Provenance.statement(
                for: v3, directory: "\(work)/build", git: GitProbe(directory: "\(work)/build").finish(),
                started: Date(),
                finished: Date())
            try Provenance.record(v3Statement, keys: [ci], store: store)
            say(
                "   fixity seal build --app shop --tag 1.3 --sign ci.key  ->  \(v3.release.short), signed SLSA provenance"
            )
            let refusal: String
            do {
                _ = try deploy(v3.release)
                refusal = "ALLOWED (policy not enforced!)"
            } catch let error as DeployError {
                refusal = error.message
            }
            say("   fixity deploy shop@1.3 --env production  ->  refused:\n     \(refusal)")
            let tested = try TestAttestation(store: store).attest(
                v3.release, command: "sh bin/health", key: ci, timeout: 30, progress: nil)
            say(
                "   fixity attest shop@1.3 --run 'sh bin/health' --key ci.key  ->  \(tested.passed ? "PASSED" : "FAILED"), signed"
            )
            let stagingRoot = Deployer(store: store, root: try DeployRoot(path: "\(work)/srv/shop-staging"))
            var stagingRequest = DeployRequest(release: v3.release)
            stagingRequest.env = "staging"
            stagingRequest.healthCommand = "sh bin/health"
            let staged = try stagingRoot.deploy(stagingRequest)
            say(
                "   fixity deploy shop@1.3 --root srv/shop-staging --env staging  ->  \(staged.result.rawValue), known-good in staging"
            )
            try Attestations(store: store).approve(v3.release, key: alice, role: "release-manager")
            say("   fixity sign shop@1.3 --key alice.key --role release-manager")
            let promoted = try deploy(v3.release)
            say(
                "   fixity deploy shop@1.3 --env production  ->  \(promoted.result.rawValue): the same digest that ran in staging, never rebuilt"
            )
            say("")

            say(
                "14. Months later an auditor asks: what ran in production while 1.2 was being deployed, and can you prove it?"
            )
            let ledgerKey = SigningKey.generate()
            let verification = try store.ledger.verify()
            let note = try store.ledger.signCheckpoint(key: ledgerKey, at: store.clock.now())
            say(
                "   fixity log verify  ->  \(verification.ok ? "ok" : "NOT OK"): \(verification.size) entries, root \(verification.root.prefix(16))…"
            )
            say(
                "   fixity log checkpoint --key ledger.key  ->  \(note.split(separator: "\n").prefix(2).joined(separator: " / ")) (signed; keep a copy off the host)"
            )
            // The instant its health check failed: 1.2 was live, and known-bad from then on.
            let brokenSwitch = try store.database.storeRead { db in
                try History.entries(db, actions: [.health], subject: d2.deployment.description).first
            }
            var answer: StateAtTime.Answer?
            if let brokenSwitch {
                answer = try StateAtTime(store: store).answer(
                    at: brokenSwitch.time, scope: .root(DeployRoot.key(forPath: rootPath)))
                let live = answer?.active
                say("   fixity state --at \(brokenSwitch.time) --root srv/shop")
                say(
                    "     release \(live?.release?.short ?? "?") (\(live?.tags.joined(separator: ", ") ?? "")), \(live?.health ?? "?"), live \(live?.since ?? "?") until \(live?.until ?? "now")"
                )
                say(
                    "     \(answer?.proof.count ?? 0) ledger entries prove it, each with an inclusion proof to the signed checkpoint"
                )
            }
            let bundle = try ProofBundleBuilder(store: store).build(release: v3.release)
            let audit = bundle.verify(trusting: [ledgerKey.publicKey, ci.publicKey, alice.publicKey])
            say(
                "   fixity prove shop@1.3 --out shop-1.3.bundle  ->  \(bundle.entries.count) entries, \(bundle.envelopes.count) signatures"
            )
            say(
                "   fixity verify-bundle shop-1.3.bundle --key … (no store, no network)  ->  \(audit.ok ? "ok" : "NOT OK: " + audit.problems.joined(separator: "; ")): \(audit.signers.filter(\.trusted).count) trusted signatures, \(audit.activations.count) activations proved"
            )
            say("\n15. The fleet: a control plane is the only path into production, and it holds to the same policy.")
            let fleet = try DemoServer.run(
                work: work, store: store, release: v3.release, policyText: policyText, ci: ci, say: say)
            if keep { say("Kept \(work); try: fixity --store \(work)/store releases") }

            if json {
                try Output.json(
                    Summary(
                        folder: work, v1: v1, v2: v2,
                        diff: Dictionary(
                            uniqueKeysWithValues: ChangeKind.allCases.map { ($0.rawValue, diff.paths($0)) }),
                        fsckClean: report.clean, deploys: [d1, d2, d3, back, staged, promoted]))
            }
            guard again.release == v1.release, resealed.release == v1.release, report.clean, d1.result == .activated,
                d2.result == .rolledBack, d2.rolledBackTo == d1.deployment, d3.result == .activated,
                back.deployment == d1.deployment,
                !drift.clean, repaired.clean, record != nil, !refusal.hasPrefix("ALLOWED"), tested.passed,
                staged.result == .activated,
                promoted.result == .activated, verification.ok, answer?.active?.release == broken.release, audit.ok,
                fleet.staged.release == v3.release, fleet.refusal.contains("known-good in staging"),
                fleet.stoppedCleanly, fleet.fleet.converged, fleet.fleet.rolledOut, fleet.fleet.halted,
                fleet.fleet.untouched, fleet.access.opened, fleet.access.ran, fleet.access.refused,
                fleet.access.reverted
            else { throw Exit.failure }
        }
    }
}
