import FixityApp
import FixityCore
import FixityHost
import FixityServer
import FixityStore
import FixityTrust
import Foundation
import Synchronization

/// The agent's side of access windows (docs/access.md). The server says which windows are open
/// onto this host and which commands wait; the agent judges each by the policy it verified
/// itself — the environment must allow windows at all, a window no longer than `max_ttl`, open
/// by this host's own clock, the command not matching `deny_commands` — and refuses otherwise.
/// While a window is open, drift is reported as made under it and never repaired; when it ends
/// (the server says so, or this host's clock does while the server is away) everything the
/// window left on the root is collected and reported, then reverted or proposed as a release,
/// as the verified policy's `after` says.
final class AccessKeeper: Sendable {
    struct OpenWindow: Sendable {
        let id: Int64
        let openedAt: Date
        let expiresAt: Date
    }

    private struct State {
        var open: [Int64: OpenWindow] = [:]
        /// Commands taken (run or refused) and windows ended here: each once.
        var taken: Set<Int64> = []
        var ended: Set<Int64> = []
        /// Windows whose changes are being collected: nothing is repaired under them.
        var closing: Set<Int64> = []
        /// Whether the server has answered since the agent started (until then the agent
        /// cannot know whether a window is open or ended unreported: repairs wait).
        var answered = false
        let startedAt = Date()
        /// A window's changes proposed as a release stay live until the desired release moves on.
        var heldFor: String??
    }

    private let state = Mutex(State())
    /// What had drifted when each open window opened (`WindowBaseline`), by window.
    private let baselines = Mutex<[Int64: WindowBaseline]>([:])
    /// The last policy chain verified here and the access rules it gave.
    private let verified = Mutex<(chain: Digest, rules: AccessRules?)?>(nil)
    let settings: AgentSettings
    let store: Store
    let sender: ReportSender
    let repairs: RepairSwitch
    let log: @Sendable (String) -> Void

    init(
        settings: AgentSettings, store: Store, sender: ReportSender, repairs: RepairSwitch,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.settings = settings
        self.store = store
        self.sender = sender
        self.repairs = repairs
        self.log = log
    }

    /// The window drift made now is made under (the newest open one).
    var currentWindow: Int64? { state.withLock { $0.open.keys.max() } }

    /// The window a drift state is blamed on: the newest open one, unless all of the drift was
    /// there before it opened (then it is the tree's before the window, reported as such).
    func window(blamedFor outcome: VerifyOutcome) -> Int64? {
        guard let id = currentWindow else { return nil }
        guard let baseline = baselines.withLock({ $0[id] }),
            let manifest = try? store.manifest(outcome.release)
        else { return id }
        return baseline.split(WindowChanges.list(outcome.report, manifest: manifest)).own.isEmpty ? nil : id
    }

    /// The first time a window is seen open: what had drifted already, kept, and reported as
    /// drift before the window (never as its change).
    private func takeBaseline(_ id: Int64) async {
        if let kept = WindowBaseline.load(window: id, root: settings.root) {
            baselines.withLock { $0[id] = kept }
            return
        }
        do {
            let (baseline, changes) = try await BlockingWork.run {
                [settings, store] () -> (WindowBaseline, [ReportedChange]) in
                guard try settings.root.activeDeployment() != nil else {
                    return (
                        WindowBaseline(window: id, takenAt: Instant(store.clock.now()).description, drifted: [:]), []
                    )
                }
                let taken = try WindowBaseline.capture(window: id, root: settings.root, store: store)
                try taken.0.save(root: settings.root)
                return taken
            }
            baselines.withLock { $0[id] = baseline }
            guard !changes.isEmpty else { return }
            var draft = ReportDraft(event: .drift)
            draft.driftState = "drifted"
            draft.changeCount = changes.count
            draft.changes = Array(changes.prefix(AgentReport.maximumChanges))
            draft.reason = "drifted before access window \(id) opened: not the window's change"
            sender.enqueue(draft)
            log("access: window \(id) opened onto a drifted tree: \(changes.count) path(s) changed before it")
        } catch {
            log("access: window \(id): could not check the tree as the window opened (\(error))")
        }
    }

    /// Takes a desired answer's windows and commands.
    func take(_ desired: AgentDesired, client: ServerClient) async {
        state.withLock { state in
            if let held = state.heldFor, held != desired.release { state.heldFor = nil }
        }
        var rules: AccessRules?
        if !desired.windows.isEmpty || !desired.execs.isEmpty {
            // The same chain verified once (a command's answer differs from the last only in it).
            let chain = Digest.of(Array(desired.policies.joined(separator: "\n").utf8))
            if let known = verified.withLock({ $0 }), known.chain == chain {
                rules = known.rules
            } else {
                do {
                    let accepted = try await BlockingWork.run { [store, settings] in
                        try PolicyChain.verify(desired.policies, pinned: settings.identity.policyRoot, store: store)
                    }
                    rules = accepted.policy.environments[settings.identity.env]?.access
                    verified.withLock { $0 = (chain, rules) }
                } catch {
                    log("access: the server's policies do not verify here (\(error)); no window is honoured")
                }
            }
        }
        let now = Date()
        var ending = [Int64]()
        var opening = [Int64]()
        state.withLock { state in
            state.answered = true
            var open = [Int64: OpenWindow]()
            for window in desired.windows {
                guard let opened = Instant(rfc3339: window.openedAt)?.date,
                    let expires = Instant(rfc3339: window.expiresAt)?.date
                else { continue }
                if window.state == "open", expires > now, let rules,
                    expires.timeIntervalSince(opened) <= Double(rules.maxTTLSeconds) + 5
                {
                    open[window.id] = OpenWindow(id: window.id, openedAt: opened, expiresAt: expires)
                } else if window.state != "open" || expires <= now, !state.ended.contains(window.id) {
                    state.ended.insert(window.id)
                    state.closing.insert(window.id)
                    ending.append(window.id)
                }
            }
            // A window the server stopped listing as open has ended too (closed early).
            for (id, _) in state.open where open[id] == nil && !state.ended.contains(id) {
                state.ended.insert(id)
                state.closing.insert(id)
                ending.append(id)
            }
            opening = open.keys.filter { state.open[$0] == nil }.sorted()
            state.open = open
        }
        updateRepairs()
        for id in opening { await takeBaseline(id) }
        let verified = rules
        for order in desired.execs where state.withLock({ $0.taken.insert(order.id).inserted }) {
            let window = state.withLock { $0.open[order.window] }
            Task { await self.run(order, window: window, rules: verified, client: client) }
        }
        for id in ending {
            Task { await self.end(id, after: verified?.after, client: client) }
        }
    }

    /// Ends windows past their expiry by this host's clock (the server may be unreachable).
    func checkClock(client: ServerClient) async {
        let now = Date()
        let due = state.withLock { state -> [Int64] in
            let due = state.open.values.filter { $0.expiresAt <= now }.map(\.id)
            for id in due {
                state.open[id] = nil
                state.ended.insert(id)
                state.closing.insert(id)
            }
            return due
        }
        guard !due.isEmpty else {
            // Never answered for three intervals: repairs resume on what the host knows.
            if state.withLock({ !$0.answered && Date().timeIntervalSince($0.startedAt) > Double(3 * settings.interval) }
            ) {
                state.withLock { $0.answered = true }
                updateRepairs()
            }
            return
        }
        updateRepairs()
        let after = try? await BlockingWork.run { [store, settings] in
            try store.currentPolicy().flatMap { try? PolicyFile.parse($0.text, name: "in force") }?
                .environments[settings.identity.env]?.access?.after
        }
        for id in due { await end(id, after: after ?? nil, client: client) }
    }

    private func updateRepairs() {
        let suspended = state.withLock {
            !$0.answered || !$0.open.isEmpty || !$0.closing.isEmpty || $0.heldFor != nil
        }
        repairs.suspend(suspended)
    }

    // MARK: commands

    private func run(_ order: ExecOrder, window: OpenWindow?, rules: AccessRules?, client: ServerClient) async {
        let env = settings.identity.env
        let now = Date()
        var refusal: String?
        if rules == nil {
            refusal = "the policy in force on this host has no [environments.\(env).access]"
        } else if let window {
            if window.expiresAt <= now {
                refusal = "window \(order.window) ended at \(Instant(window.expiresAt)) by this host's clock"
            } else if let pattern = rules?.deniedPattern(for: order.argv) {
                refusal = "the command matches environments.\(env).access.deny_commands pattern '\(pattern)'"
            } else {
                do { try ExecRequest.validate(argv: order.argv) } catch { refusal = error.message }
            }
        } else {
            refusal = "window \(order.window) is not open onto this host"
        }
        let started = Instant(now).description
        let execPath = "/v1/agent/execs/\(order.id)"
        if let refusal {
            log("access: refused command \(order.id) (\(AccessRules.commandLine(order.argv).prefix(120))): \(refusal)")
            await record(.agentRefused, order, ["reason": refusal])
            let result = ExecResult.refused(refusal, at: started)
            _ = try? await post(execPath, ExecProgress(seq: 1, stdout: "", stderr: "", result: result), client)
            return
        }
        guard let window else { return }
        // The claim: a command runs at most once, even if this agent restarts.
        do {
            try await post(execPath, ExecProgress(seq: 1, stdout: "", stderr: "", result: nil), client)
        } catch {
            log("access: command \(order.id) not taken: \(error)")
            return
        }
        let timeout = min(Double(order.timeoutSeconds), window.expiresAt.timeIntervalSinceNow)
        let pending = PendingOutput()
        let runner = ExecRunner(
            argv: order.argv, directory: settings.root.path,
            environment: [
                "FIXITY_WINDOW": String(order.window), "FIXITY_EXEC": String(order.id),
                "FIXITY_ROOT": settings.root.key,
                "FIXITY_ENV": env, "FIXITY_REQUESTED_BY": order.requestedBy,
            ], timeout: max(0, timeout))
        log("access: running command \(order.id) for \(order.requestedBy) under window \(order.window)")
        let job = Task.detached {
            defer { pending.markDone() }
            return try await onThread { try runner.run { pending.add($0, $1) } }
        }
        var seq = 1
        // Output goes up as it comes: looked at after 1 ms, then 2, 4 … and every 50 ms while
        // the command runs (a quick command's end is not held back by the period).
        var pause = 1
        while !pending.isDone {
            try? await Task.sleep(for: .milliseconds(pause))
            pause = min(50, pause * 2)
            for piece in pending.take() {
                seq += 1
                _ = try? await post(
                    execPath, ExecProgress(seq: seq, stdout: piece.0, stderr: piece.1, result: nil), client)
            }
        }
        let finished = Instant(Date()).description
        let outcome: ExecRunner.Outcome
        do { outcome = try await job.value } catch {
            let result = ExecResult.refused("\(error)", at: finished)
            _ = try? await post(execPath, ExecProgress(seq: seq + 1, stdout: "", stderr: "", result: result), client)
            return
        }
        var pieces = pending.take()
        if pieces.isEmpty { pieces = [("", "")] }
        for (index, piece) in pieces.enumerated() {
            seq += 1
            let result =
                index == pieces.count - 1
                ? ExecResult(
                    exitCode: outcome.exitCode, signal: outcome.signal, timedOut: outcome.timedOut,
                    stdoutBytes: outcome.stdoutBytes, stderrBytes: outcome.stderrBytes,
                    stdoutDigest: outcome.stdoutDigest.description, stderrDigest: outcome.stderrDigest.description,
                    startedAt: started, finishedAt: finished, refused: nil) : nil
            do {
                try await post(
                    execPath, ExecProgress(seq: seq, stdout: piece.0, stderr: piece.1, result: result), client)
            } catch {
                log("access: could not send the end of command \(order.id): \(error)")
            }
        }
        await record(
            .accessExec, order,
            [
                "exit_code": outcome.exitCode.map(String.init) ?? LedgerDetail.absent,
                "signal": outcome.signal.map(String.init) ?? LedgerDetail.absent,
                "timed_out": LedgerDetail.flag(outcome.timedOut), "stdout_digest": outcome.stdoutDigest.description,
                "stderr_digest": outcome.stderrDigest.description,
            ])
    }

    private func post(_ path: String, _ progress: ExecProgress, _ client: ServerClient) async throws {
        let _: [String: Int] = try await client.document(.POST, path, body: progress)
    }

    /// The host's own ledger keeps what ran on it, and what it refused.
    private func record(_ action: LedgerAction, _ order: ExecOrder, _ extra: [String: String]) async {
        var details = [
            "env": settings.identity.env, "host": settings.identity.host, "window": String(order.window),
            "exec": String(order.id), "argv": String(decoding: JSONStyle.compact.bytes(order.argv), as: UTF8.self),
            "by": order.requestedBy, "root": settings.root.key, "server": settings.server,
        ]
        details.merge(extra) { $1 }
        _ = try? await BlockingWork.run { [store, details] in
            try store.ledger.append(
                action: action, subject: "window:\(order.window)", details: details, at: store.clock.now())
        }
    }

    // MARK: a window's end

    private func end(_ id: Int64, after: AccessAfter?, client: ServerClient) async {
        let after = after ?? .revert
        log("access: window \(id) ended; collecting what it left (after = \(after.rawValue))")
        var draft: ReportDraft
        let before = baselines.withLock { $0[id] } ?? WindowBaseline.load(window: id, root: settings.root)
        do {
            draft = try await BlockingWork.run { [settings, store] in
                try WindowChanges.collect(window: id, after: after, root: settings.root, store: store, before: before)
            }
            if let proposal = draft.proposal {
                draft = await upload(proposal, draft, client: client)
                if draft.outcome == "proposed" {
                    state.withLock { $0.heldFor = .some(draft.release) }
                }
            }
        } catch {
            draft = ReportDraft(event: .windowClosed)
            draft.window = id
            draft.outcome = "failed"
            draft.reason = "collecting what window \(id) left: \(error)"
        }
        state.withLock { _ = $0.closing.remove(id) }
        updateRepairs()
        log("access: window \(id): \(draft.changeCount) change(s), \(draft.outcome ?? "-")")
        sender.enqueue(draft)
        // What had drifted before the window is still there (a revert left it): said again as
        // drift, so the server does not take the window's end for a clean tree.
        if draft.driftState == "drifted", draft.outcome != "proposed",
            let now = try? await VerifyRoot(settings.root).run(in: store), !now.clean
        {
            sender.enqueue(ReportDraft.drift(now, event: .drift))
        }
        baselines.withLock { _ = $0.removeValue(forKey: id) }
        WindowBaseline.remove(window: id, root: settings.root)
    }

    /// Uploads a proposal (the server lets a host push only while it owes a window's report);
    /// retried for five minutes while the server is away.
    private func upload(_ proposal: String, _ draft: ReportDraft, client: ServerClient) async -> ReportDraft {
        var draft = draft
        guard let digest = Digest(parsing: proposal) else { return draft }
        for attempt in 1...20 {
            do {
                _ = try await ReleaseTransfer.push(.id(ReleaseID(digest)), from: store, to: client)
                return draft
            } catch let error as any FixityError where error.category != .io {
                draft.outcome = "failed"
                draft.reason = "the proposal \(proposal) could not be uploaded: \(error.message)"
                return draft
            } catch {
                try? await Task.sleep(for: .seconds(Backoff.delay(after: attempt)))
            }
        }
        draft.outcome = "failed"
        draft.reason = "the proposal \(proposal) is sealed in this host's store but could not be uploaded"
        return draft
    }
}

/// Output read but not yet sent, as base64 pieces no larger than a progress message may carry.
final class PendingOutput: Sendable {
    private let bytes = Mutex<([UInt8], [UInt8])>(([], []))

    func add(_ stream: ExecRunner.Stream, _ piece: [UInt8]) {
        bytes.withLock { held in
            if stream == .stdout { held.0 += piece } else { held.1 += piece }
        }
    }

    func take() -> [(String, String)] {
        let (out, err) = bytes.withLock { held in
            defer { held = ([], []) }
            return held
        }
        let size = AccessLimits.maximumChunk
        var pieces = [(String, String)]()
        var index = 0
        while index * size < max(out.count, err.count) {
            let range = { (bytes: [UInt8]) in Array(bytes.dropFirst(index * size).prefix(size)) }
            pieces.append((Base64.encode(range(out)), Base64.encode(range(err))))
            index += 1
        }
        return pieces
    }

    private let done = Atomic<Bool>(false)
    func markDone() { done.store(true, ordering: .sequentiallyConsistent) }
    var isDone: Bool { done.load(ordering: .sequentiallyConsistent) }
}

/// Runs blocking work on a thread of its own (a command may run for an hour: not on a pool).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "fixity-exec"
        thread.start()
    }
}
