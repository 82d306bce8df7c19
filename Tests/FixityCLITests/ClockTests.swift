import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import FixityTesting
import Foundation
import Testing

/// Every recorded time comes from the store's injected clock: deployments recorded an hour
/// apart by a manual clock, then `fixity state --at` (the real binary, real clock) answers for
/// instants between them — no sleeping, no guessing what "now" was.
@Suite struct ClockTests {
    @Test func recordedTimesComeFromTheStoresClockAndStateAtReadsThem() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p v1 v2 && echo one > v1/VERSION && echo two > v2/VERSION")
        let clock = ManualClock("2030-01-01T03:00:00Z")
        let store = try Store.open(at: sandbox.store, clock: clock)
        let one = try store.seal(directory: "\(sandbox.root)/v1", app: AppName(parsing: "app"), tag: "1").release
        let two = try store.seal(directory: "\(sandbox.root)/v2", app: AppName(parsing: "app"), tag: "2").release
        let root = try DeployRoot(path: "\(sandbox.root)/root")
        let deployer = Deployer(store: store, root: root)
        _ = try deployer.deploy(DeployRequest(release: one))
        clock.advance(by: 3600)
        _ = try deployer.deploy(DeployRequest(release: two))

        let times = try store.database.read { db in try History.events(db).map(\.time) }
        #expect(times.first == "2030-01-01T03:00:00.000000000Z", "\(times)")
        #expect(times.last?.hasPrefix("2030-01-01T04:00:00") == true, "\(times)")

        func active(at time: String) throws -> String? {
            let result = try sandbox.fixity("state", "--at", time, "--root", "root", "--json")
            try #require(result.status == 0, "\(result.stderr)")
            let json = try result.json()
            return (json["active"] as? [String: Any])?["release"] as? String
        }
        #expect(try active(at: "2030-01-01T03:30:00Z") == one.description)
        #expect(try active(at: "2030-01-01T04:30:00Z") == two.description)
        let before = try sandbox.fixity("state", "--at", "2030-01-01T02:59:59Z", "--root", "root")
        #expect(before.status == 2 && before.stderr.contains("before the first ledger entry"), "\(before.stderr)")
    }
}
