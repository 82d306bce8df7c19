import CFixitySys
import FixityApp
import FixityCore
import FixityHost
import FixityServer
import FixityStore
import Foundation
import Synchronization

/// `fixity agent` (docs/agent.md): no open port; it long-polls its server for what to run,
/// verifies it against its own trust, converges, watches its root for drift, and reports —
/// every request signed by the host's identity. Offline it keeps what it runs, keeps watching,
/// and backs off; it moves only on an answer it verified.
package final class Agent: Sendable {
    let settings: AgentSettings
    let store: Store
    let log: @Sendable (String) -> Void
    private let repairs = RepairSwitch()
    /// How many paths the watcher last found drifted (0: clean), so "converged" is never said
    /// over a drifted tree.
    private let drifted = DriftTally()

    package init(settings: AgentSettings, store: Store, log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.store = store
        self.log = log
    }

    /// `--once`: one cycle, its reports delivered, its outcome returned.
    package func runOnce() async throws -> CycleOutcome {
        let claim = try claimRoot()
        defer { withExtendedLifetime(claim) {} }
        return try await ServerClient.session(
            url: settings.server, credential: .host(settings.identity.key), readTimeout: 120
        ) { client in
            let desired: AgentDesired = try await client.document(.GET, "/v1/agent/desired?wait=0")
            let result = try await Converger(settings: settings, store: store).converge(desired, client: client)
            let sender = ReportSender(interval: settings.interval, log: log)
            if let report = result.report {
                sender.enqueue(report)
            } else {
                sender.enqueue(try await statusDraft())
            }
            var outcome = result.outcome
            if case .converged = outcome {
                // Converged means the tree is the release, byte for byte — checked, not assumed.
                let drift = try await CycleDriftCheck(settings: settings, store: store)
                    .run(drift: result.drift, underWindow: !desired.windows.isEmpty)
                for report in drift.reports { sender.enqueue(report) }
                outcome = drift.outcome ?? outcome
            }
            try await deliver(sender, client)
            if let keep = result.retention {
                await Converger(settings: settings, store: store).applyRetention(keep: keep)
            }
            writeMetrics(outcome)
            return outcome
        }
    }

    /// Runs until SIGINT or SIGTERM.
    package func run() async throws {
        let claim = try claimRoot()
        defer { withExtendedLifetime(claim) {} }
        fixity_install_stop_handlers()
        try await ServerClient.session(
            url: settings.server, credential: .host(settings.identity.key),
            // A poll is held `interval` seconds; an answer later than that by 10 s means the
            // connection is gone (a cut cable sends no reset), so it is given up and retried.
            readTimeout: Int64(settings.interval) + 10
        ) { client in
            let sender = ReportSender(interval: settings.interval, log: log)
            if let drift = try? await Converger(settings: settings, store: store).currentDrift() {
                repairs.set(drift == .repair)
            }
            // Nothing is repaired until the server said which windows are open or ended unreported.
            repairs.suspend(true)
            let access = AccessKeeper(settings: settings, store: store, sender: sender, repairs: repairs, log: log)
            let watcher = startWatcher(sender, access: access)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await sender.run(client: client) }
                group.addTask { await self.pollLoop(client, sender, access) }
                group.addTask {
                    // A window ends by this host's clock too, with the server unreachable.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        await access.checkClock(client: client)
                    }
                }
                group.addTask {
                    // The stop flag is set by the signal handler; everything else is cancelled from here.
                    while fixity_stop_requested() == 0 { try? await Task.sleep(for: .milliseconds(100)) }
                }
                await group.next()
                group.cancelAll()
            }
            try? watcher.wait()
            log("stopping on signal; the active deployment keeps running")
        }
    }

    private func pollLoop(_ client: ServerClient, _ sender: ReportSender, _ access: AccessKeeper) async {
        var tag: String?
        var deployTag: String?
        var failures = 0
        var lastStatus = Date.distantPast
        let converger = Converger(settings: settings, store: store)
        while !Task.isCancelled {
            do {
                let wait = tag == nil ? 0 : settings.interval
                let query = "wait=\(wait)" + (tag.map { "&tag=\($0)" } ?? "")
                let desired: AgentDesired = try await client.document(.GET, "/v1/agent/desired?\(query)")
                if failures > 0 { log("the server is back after \(failures) failed attempt(s)") }
                failures = 0
                if desired.tag != tag {
                    // Commands first: a window's command must not wait behind a deploy.
                    await access.take(desired, client: client)
                    // Only what a deploy depends on is converged again (not a command arriving).
                    let deploying = Self.deployTag(desired)
                    if deploying != deployTag {
                        let result = try await converger.converge(desired, client: client)
                        repairs.set(result.drift == .repair)
                        let seq = result.report.map { sender.enqueue($0) }
                        note(result.outcome, desired)
                        if let keep = result.retention {
                            // Report first, clean up after: removing an old tree can take seconds.
                            if let seq { await sender.delivered(seq, within: 10) }
                            await converger.applyRetention(keep: keep)
                        }
                        writeMetrics(result.outcome)
                        deployTag = deploying
                    }
                    tag = desired.tag
                }
                if Date().timeIntervalSince(lastStatus) >= Double(settings.interval) {
                    sender.enqueue(try await statusDraft())
                    lastStatus = Date()
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let delay = Backoff.delay(after: failures)
                log(
                    "\(Self.describe(error, settings: settings)); \(keeping()), retrying in \(String(format: "%.1f", delay)) s"
                )
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
        }
    }

    /// What a failed poll means, said so an operator can act on it: a server that refuses this
    /// host (the wrong server, or a revoked host) is not the same as one that cannot be reached.
    static func describe(_ error: any Error, settings: AgentSettings) -> String {
        if let failure = error as? ServerClientError, let status = failure.status, status == 401 || status == 403 {
            let enrolledWith =
                settings.server == settings.identity.server
                ? "" : "; it enrolled with \(settings.identity.server), not \(settings.server)"
            return "the server refuses host \(settings.identity.host): \(failure.message)\(enrolledWith)"
        }
        return "cannot reach or use the server (\(error))"
    }

    /// What the host does meanwhile: keeps what it runs, or says it runs nothing yet.
    private func keeping() -> String {
        ((try? settings.root.activeDeployment()) ?? nil) == nil
            ? "nothing is deployed on \(settings.root.path) yet" : "keeping the active deployment"
    }

    /// One agent per root, and a root kept by one identity (`DeployRoot.claimForAgent`).
    private func claimRoot() throws -> FileLock {
        try settings.root.claimForAgent(
            .init(host: settings.identity.host, keyID: settings.identity.key.id.hex))
    }

    /// Names what a converge acts on: the release, the policies, the envelopes, known-good.
    static func deployTag(_ desired: AgentDesired) -> String {
        var named = [UInt8]()
        for part in [desired.release ?? "-", desired.reason] + desired.policies + desired.envelopes
            + desired.knownGoodIn
        {
            named += Array(part.utf8) + [0]
        }
        return Digest.of(named).description
    }

    private func note(_ outcome: CycleOutcome, _ desired: AgentDesired) {
        switch outcome {
        case .converged:
            let count = drifted.count
            let tree =
                count == 0
                ? "" : "; its live tree has \(count) drifted path(s) (\(repairs.isOn ? "being repaired" : "reported"))"
            log("converged: \(desired.release ?? "nothing desired yet") (\(desired.reason))\(tree)")
        case .rolledBack(let why): log("rolled back: \(why)")
        case .refused(let why): log("refused the desired state (\(desired.reason)): \(why)")
        case .drifted(let why), .repaired(let why): log("\(desired.release ?? "-"): \(why)")
        }
    }

    /// The heartbeat: what the host runs now.
    private func statusDraft() async throws -> ReportDraft {
        try await BlockingWork.run { [settings, store] in
            var draft = ReportDraft(event: .status)
            if let active = try settings.root.activeDeployment(),
                let record = try RootState(store: store, root: settings.root).find(active)
            {
                draft.deployment = active.description
                draft.release = record.release.description
            }
            return draft
        }
    }

    private func deliver(_ sender: ReportSender, _ client: ServerClient) async throws {
        let task = Task { await sender.run(client: client) }
        let deadline = Date().addingTimeInterval(30)
        while sender.pending > 0 && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        if sender.pending > 0 {
            throw AgentRefusal("could not deliver \(sender.pending) report(s) to \(settings.server) within 30 s")
        }
    }

    // MARK: drift

    /// The watcher on its own thread (it blocks in inotify): each change of drift state is
    /// reported at once, and repaired when the policy in force says `drift = "repair"`.
    private func startWatcher(_ sender: ReportSender, access: AccessKeeper) -> BackgroundJob<Void> {
        BackgroundJob { [settings, store, repairs, drifted, log] in
            var options = DriftWatcher.Options()
            options.interval = 300
            options.repairWhen = { repairs.isOn }
            while fixity_stop_requested() == 0 {
                let watcher = DriftWatcher(store: store, root: settings.root, options: options) { event in
                    switch event {
                    case .stateChanged(let outcome, _, _):
                        drifted.set(outcome.report.drifted.count)
                        var draft = ReportDraft.drift(outcome, event: .drift)
                        // Made under an open window: reported as such, and not repaired
                        // (drift that was there before the window opened is not its).
                        draft.window = access.window(blamedFor: outcome)
                        sender.enqueue(draft)
                        log(
                            outcome.clean
                                ? "drift: clean again" : "drift: \(outcome.report.drifted.count) path(s) changed")
                    case .repaired(let after, _, let evidence, _):
                        drifted.set(after.report.drifted.count)
                        var draft = ReportDraft.drift(after, event: .repaired, evidence: evidence)
                        draft.evidenceFiles = evidence.map { EvidenceReport.files($0, store: store) }
                        sender.enqueue(draft)
                        log("drift repaired; evidence kept at \(evidence ?? "-")")
                    case .notice(let notice): log("watch: \(notice)")
                    case .checked: break
                    }
                }
                do { try watcher.run() } catch {
                    log("watch stopped: \(error); starting it again in 2 s")
                    for _ in 0..<20 where fixity_stop_requested() == 0 { usleep(100_000) }
                }
            }
        }
    }

    // MARK: metrics

    private func writeMetrics(_ outcome: CycleOutcome) {
        guard let path = settings.metricsFile else { return }
        let code = outcome.exitCode
        let text = """
            # HELP fixity_agent_converged 1 when the host runs its verified desired release, healthy.
            # TYPE fixity_agent_converged gauge
            fixity_agent_converged \(code == 0 ? 1 : 0)
            # HELP fixity_agent_refused 1 when the last desired state was refused (policy, signature, bad input).
            # TYPE fixity_agent_refused gauge
            fixity_agent_refused \(code == 2 ? 1 : 0)
            # HELP fixity_agent_last_cycle_timestamp_seconds When the agent last acted on a desired state.
            # TYPE fixity_agent_last_cycle_timestamp_seconds gauge
            fixity_agent_last_cycle_timestamp_seconds \(String(format: "%.3f", Date().timeIntervalSince1970))

            """
        do { try DurableFile.replace(path, with: Array(text.utf8)) } catch { log("metrics file \(path): \(error)") }
    }
}

/// Whether drift is repaired now: the policy in force decides, and may change while the watch
/// runs; an open access window (or its changes proposed and not yet replaced) suspends it.
final class RepairSwitch: Sendable {
    private let on = Atomic<Bool>(false)
    private let suspended = Atomic<Bool>(false)
    func set(_ value: Bool) { on.store(value, ordering: .relaxed) }
    func suspend(_ value: Bool) { suspended.store(value, ordering: .relaxed) }
    var isOn: Bool { on.load(ordering: .relaxed) && !suspended.load(ordering: .relaxed) }
}

/// The watcher's last count of drifted paths, read when a cycle is logged.
final class DriftTally: Sendable {
    private let value = Atomic<Int>(0)
    func set(_ count: Int) { value.store(count, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}
