import FixityCore
import Foundation
import Testing

@testable import FixityServer

/// The rules under rollouts and host states (docs/agent.md), in memory: how hosts fall into
/// waves, what a plan may say, and what state a host's last words put it in.
struct RolloutRulesTests {
    @Test func wavesTakeTheirShareAndAtLeastOneMoreHostEach() throws {
        let plan = try RolloutPlan(waves: [5, 25, 100], bakeSeconds: 0, maxFailed: 0)
        // 23 hosts: 5% is 1.15 -> 2, 25% is 5.75 -> 6, then all.
        #expect((0..<3).map { plan.cumulative($0, of: 23) } == [2, 6, 23])
        // 3 hosts: 5% rounds up to one, 25% would be one too, so the second wave takes one more.
        #expect((0..<3).map { plan.cumulative($0, of: 3) } == [1, 2, 3])
        #expect((0..<3).map { plan.cumulative($0, of: 0) } == [0, 0, 0])
        let single = try RolloutPlan(waves: [100], bakeSeconds: 0, maxFailed: 0)
        #expect(single.cumulative(0, of: 50) == 50)
    }

    @Test(arguments: [[], [50], [50, 25, 100], [0, 100], [10, 10, 100], [10, 101]])
    func aPlanThatCannotMoveEveryHostInOrderIsRefused(waves: [Int]) {
        #expect(throws: AccessError.self) { try RolloutPlan(waves: waves, bakeSeconds: 0, maxFailed: 0) }
    }

    @Test func overTheAPIWavesAreASetThatEndsAtAHundred() throws {
        let plan = try JSONDecoder().decode(
            RolloutPlan.self, from: Data(#"{"waves":[25,5,25],"bake_seconds":60,"max_failed":1}"#.utf8))
        #expect(plan.waves == [5, 25, 100] && plan.bakeSeconds == 60 && plan.maxFailed == 1)
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(
                RolloutPlan.self, from: Data(#"{"waves":[50],"bake_seconds":-1,"max_failed":0}"#.utf8))
        }
    }

    @Test func aHostsStateFollowsItsLastReportAndItsSilence() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func state(
            revoked: Bool = false, seen: Double? = 10, event: String? = "deployed", drifted: Bool = false,
            release: String? = "A", attempted: String? = "A", desired: String? = "A"
        ) -> HostState {
            HostStateRule.state(
                revoked: revoked, lastSeen: seen.map { now.addingTimeInterval(-$0) }, interval: 30, now: now,
                lastEvent: event, drifted: drifted, release: release, attempted: attempted, desired: desired)
        }
        #expect(state() == .converged)
        #expect(state(seen: nil) == .enrolled)
        #expect(state(seen: 91) == .offline)
        #expect(state(seen: 89) == .converged)
        #expect(state(drifted: true) == .drifted)
        #expect(state(event: "rolled_back", release: "old") == .failed)
        #expect(state(event: "refused", release: "old") == .failed)
        #expect(state(release: "old", attempted: nil) == .deploying)
        #expect(state(revoked: true, seen: 1000) == .revoked)
        // Heard from (heartbeats), but nothing wanted and nothing run: not "converged" yet.
        #expect(state(event: "status", release: nil, attempted: nil, desired: nil) == .enrolled)
        #expect(state(event: "status", release: nil, attempted: nil, desired: "A") == .deploying)
    }
}
