import FixityAccess
import FixityCore
import Foundation
import Hummingbird

/// The fleet at a glance: every environment with its hosts counted by state, one environment
/// with its rollout and hosts (live over Server-Sent Events), one host with its history.
/// Scopes as `GET /v1/environments/{env}` and `GET /v1/hosts`: `release:read`.
enum DashboardFleetPages {
    struct Environments {
        struct Card {
            let name: String
            let desired: ShownDigest?
            let rollout: RolloutLine?
            let counts: [HostStates.Count]
        }
        struct RolloutLine {
            let id: Int64
            let state: String
            let waveNumber: Int
            let waveCount: Int
        }
        let chrome: Chrome
        let environments: [Card]
        let rendered: String
    }

    struct Environment {
        struct Desired {
            let release: ShownDigest
            let at: Moment?
            let key: String
        }
        struct Rules {
            let threshold: Int
            let trusted: Int
            let knownGood: String?
            let tests: Bool
        }
        struct Rollout {
            struct Wave {
                let number: Int
                let share: Int
                let hosts: Int
                let healthy: Int
                let pending: Int
                let failed: Int
                let current: Bool
            }
            let id: Int64
            let state: String
            let release: ShownDigest
            let previous: ShownDigest
            let started: Moment?
            let bake: Int
            let maxFailed: Int
            let reason: String?
            let waves: [Wave]
        }
        struct Host {
            let name: String
            let state: String
            let release: ShownDigest?
            let lastReport: Moment?
            let drift: Int
            /// Empty rather than nil: a nil field sends the template's lookup up to the page.
            let detail: String
        }
        let chrome: Chrome
        let name: String
        let desired: Desired?
        let rules: Rules?
        let counts: [HostStates.Count]
        let rollout: Rollout?
        let hosts: [Host]
        let hasHosts: Bool
        let rendered: String
    }

    static func add(to pages: RouterGroup<ServerContext>, dashboard: Dashboard) {
        pages.get { _, context in
            try context.require(.releaseRead)
            let chrome = try context.requireDashboard().chrome
            var cards: [Environments.Card] = []
            let names = try await DisplayNames.load(dashboard.plane)
            for name in try await dashboard.plane.environmentNames() {
                let view = try await dashboard.plane.environment(name)
                let hosts = try await dashboard.plane.fleet.hosts(env: name)
                let rollout = try await dashboard.plane.fleet.rollout(env: name)
                cards.append(
                    Environments.Card(
                        name: name, desired: view.desired.map { names.release($0.release.description) },
                        rollout: rollout.map {
                            Environments.RolloutLine(
                                id: $0.id, state: $0.state, waveNumber: $0.wave + 1, waveCount: $0.waves.count)
                        },
                        counts: HostStates.counts(hosts.map(\.state))))
            }
            return dashboard.page(
                Environments(chrome: chrome, environments: cards, rendered: dashboard.now.wholeSecondsText),
                "environments")
        }

        pages.get("env/{env}") { _, context in
            try context.require(.releaseRead)
            let env = try EnvironmentRoutes.environment(context)
            let chrome = try context.requireDashboard().chrome
            let now = dashboard.now
            let view = try await dashboard.plane.environment(env)
            let hosts = try await dashboard.plane.fleet.hosts(env: env)
            let rollout = try await dashboard.plane.fleet.rollout(env: env)
            let names = try await DisplayNames.load(dashboard.plane)
            let page = Environment(
                chrome: chrome, name: env,
                desired: view.desired.map {
                    Environment.Desired(
                        release: names.release($0.release.description), at: Moment($0.setAt, now: now),
                        key: names.key($0.key))
                },
                rules: view.rules.map {
                    Environment.Rules(
                        threshold: $0.threshold, trusted: $0.trustedKeys.count,
                        knownGood: $0.requireKnownGoodIn.isEmpty ? nil : $0.requireKnownGoodIn.joined(separator: ", "),
                        tests: $0.requireTests)
                },
                counts: HostStates.counts(hosts.map(\.state)), rollout: rollout.map { waves($0, now: now) },
                hosts: hosts.map { host in
                    Environment.Host(
                        name: host.name, state: host.state, release: host.release.map(names.release),
                        lastReport: Moment(host.lastReportAt, now: now), drift: host.drift.count,
                        detail: host.detail ?? "")
                },
                hasHosts: !hosts.isEmpty, rendered: now.wholeSecondsText)
            return dashboard.page(page, "environment")
        }

        pages.get("events/env/{env}") { _, context in
            try context.require(.releaseRead)
            let env = try EnvironmentRoutes.environment(context)
            let session = try context.requireDashboard()
            return DashboardEvents.hosts(env: env, session: session, address: context.address, dashboard: dashboard)
        }

        pages.get("hosts/{name}") { _, context in
            try context.require(.releaseRead)
            let name = try ReleaseRoutes.pathParameter("name", context)
            guard HostName.isValid(name) else { throw APIFailure.badInput("'\(name.prefix(80))' is not a host name") }
            let chrome = try context.requireDashboard().chrome
            let history = try await dashboard.plane.fleet.history(host: name, limit: DashboardHostPage.reportsShown)
            var expected: [String: String] = [:]
            if let drift = DashboardHostPage.newestDrift(history), let text = drift.report.release,
                let digest = Digest(parsing: text),
                let manifest = try? await dashboard.plane.manifest(ReleaseID(digest))
            {
                for change in drift.report.changes {
                    if let digest = manifest.entry(at: change.path)?.digest {
                        expected[change.path] = digest.description
                    }
                }
            }
            return dashboard.page(
                DashboardHostPage(history, expected: expected, chrome: chrome, now: dashboard.now), "host")
        }
    }

    /// A rollout's waves: how many hosts each holds and how far each got.
    static func waves(_ rollout: RolloutView, now: Instant) -> Environment.Rollout {
        let waves = rollout.waves.enumerated().map { index, share in
            let hosts = rollout.hosts.filter { $0.wave == index }
            return Environment.Rollout.Wave(
                number: index + 1, share: share, hosts: hosts.count,
                healthy: hosts.count { $0.state == "healthy" },
                pending: hosts.count { $0.state == "pending" || $0.state == "waiting" },
                failed: hosts.count { $0.state == "failed" || $0.state == "rolled_back" },
                current: index == rollout.wave
                    && RolloutState(rawValue: rollout.state).map(RolloutState.active.contains) == true)
        }
        return Environment.Rollout(
            id: rollout.id, state: rollout.state, release: .release(rollout.release),
            previous: .release(rollout.previous), started: Moment(rollout.startedAt, now: now),
            bake: rollout.bakeSeconds, maxFailed: rollout.maxFailed, reason: rollout.reason, waves: waves)
    }
}
