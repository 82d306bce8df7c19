import FixityCore
import Testing

@Suite struct DeploymentTests {
    let app = try! Manifest(entries: [
        .directory("bin", mode: 0o755), .file("bin/run", mode: 0o755, size: 1, digest: blobA),
        .directory("config", mode: 0o755),
    ])
    let config = try! Manifest(entries: [.file("db.toml", mode: 0o600, size: 1, digest: blobB)])

    @Test func deploymentIDCoversReleaseConfigAndMountPoint() throws {
        let plain = try Deployment(release: app.id, config: nil, configPath: "ignored")
        let withConfig = try Deployment(release: app.id, config: config.id, configPath: nil)
        let elsewhere = try Deployment(release: app.id, config: config.id, configPath: "etc")
        #expect(withConfig.configPath == "config")
        #expect(plain.configPath == nil)
        #expect(Set([plain.id, withConfig.id, elsewhere.id]).count == 3)
        #expect(
            String(decoding: plain.canonicalBytes, as: UTF8.self)
                == "fixity-deployment 1\nrelease \(app.id)\nconfig -\n")
        #expect(try Deployment(release: app.id, config: config.id, configPath: "config").id == withConfig.id)
    }

    @Test func configIsMountedUnderItsPathInCanonicalOrder() throws {
        let deployment = try Deployment(release: app.id, config: config.id, configPath: "config")
        let tree = try deployment.combinedManifest(app: app, config: config)
        #expect(tree.entries.map(\.path) == ["bin", "bin/run", "config", "config/db.toml"])
        let deep = try Deployment(release: app.id, config: config.id, configPath: "etc/shop")
        #expect(
            try deep.combinedManifest(app: app, config: config).entries.map(\.path) == [
                "bin", "bin/run", "config", "etc", "etc/shop", "etc/shop/db.toml",
            ])
    }

    @Test func configThatWouldOverwriteAppFilesIsRefused() throws {
        let clash = try Manifest(entries: [.file("run", mode: 0o644, size: 1, digest: blobB)])
        let deployment = try Deployment(release: app.id, config: clash.id, configPath: "bin")
        #expect(throws: DeployError.self) { try deployment.combinedManifest(app: app, config: clash) }
        let onFile = try Deployment(release: app.id, config: config.id, configPath: "bin/run")
        #expect(throws: DeployError.self) { try onFile.combinedManifest(app: app, config: config) }
        #expect(throws: DeployError.self) { try Deployment(release: app.id, config: config.id, configPath: "../etc") }
    }
}

@Suite struct RootHistoryTests {
    func digest(_ n: Int) -> Digest { .of(Array("deployment \(n)".utf8)) }

    func history(_ healths: [RootHistory.Health], active: Int?) -> RootHistory {
        RootHistory(
            records: healths.enumerated().map {
                RootHistory.Record(
                    deployment: digest($0.offset), ordinal: Int64($0.offset), health: $0.element, materialized: true)
            },
            active: active.map(digest))
    }

    @Test func rollbackGoesToTheNewestKnownGoodOlderThanTheActiveOne() {
        let h = history([.knownGood, .knownBad, .knownGood, .knownGood], active: 3)
        #expect(h.rollbackTarget()?.deployment == digest(2))
        // After that rollback, a second one goes one further back, skipping the known-bad one.
        #expect(
            history([.knownGood, .knownBad, .knownGood, .knownGood], active: 2).rollbackTarget()?.deployment
                == digest(0))
        #expect(history([.knownGood, .knownGood], active: 0).rollbackTarget() == nil)
    }

    @Test func recoveryPrefersThePreviouslyActiveKnownGoodDeployment() {
        let h = history([.knownGood, .knownGood, .knownBad], active: 2)
        #expect(h.recoveryTarget(failed: digest(2), previous: digest(0))?.deployment == digest(0))
        #expect(h.recoveryTarget(failed: digest(2), previous: nil)?.deployment == digest(1))
        #expect(history([.knownBad], active: 0).recoveryTarget(failed: digest(0), previous: nil) == nil)
    }

    @Test func failedDeploymentsNeverPushKnownGoodOnesOut() {
        let h = history([.knownGood, .knownGood, .knownGood] + Array(repeating: .knownBad, count: 10), active: 2)
        let victims = Set(h.retentionVictims(keep: 3))
        #expect(victims == Set((3..<13).map(digest)))
        let more = history([.knownGood, .knownGood, .knownGood, .knownGood, .knownGood], active: 4)
        #expect(more.retentionVictims(keep: 3) == [digest(0), digest(1)])
        // The active deployment is never removed, even when it is beyond keep.
        #expect(
            !history([.knownGood, .knownGood, .knownGood], active: 0).retentionVictims(keep: 1).contains(digest(0)))
    }
}
