import ArgumentParser
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import FixityTrust

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The active deployment of a root, its known-good ones, and recent history.")

    @Option(help: "The deploy root.")
    var root: String

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let root: String
        let active: RootDeployment?
        let deployments: [RootDeployment]
        let knownGood: [Digest]
        let history: [LedgerEntry]
        /// The active deployment's environment checked against the policy in force now.
        let policy: Policy.Decision?
        /// False when the ledger has no entry switching the root to the active deployment.
        let ledgerBacked: Bool

        enum CodingKeys: String, CodingKey {
            case root, active, deployments, knownGood = "known_good", history, policy, ledgerBacked = "ledger_backed"
        }
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let deployRoot = try DeployRoot(path: root, create: false, allowShared: allowSharedRoot)
            let state = RootState(store: store, root: deployRoot)
            let active = try deployRoot.activeDeployment()
            let deployments = try state.all()
            let current = deployments.first { $0.deployment == active }
            // What is live must be in the ledger: a truncated or edited ledger is said, not hidden.
            let ledgerBacked = try active.map { try state.activationRecorded($0) } ?? true
            if let active, !ledgerBacked {
                Output.note(
                    "warning: the ledger has no entry switching \(deployRoot.path) to \(active.short): it was truncated or edited (fixity log verify)"
                )
            }
            let decision = try current.flatMap { record in
                try record.env.map {
                    try PolicyGate(store: store).check(env: $0, release: record.release, config: record.config).decision
                }
            }
            let result = Result(
                root: deployRoot.path, active: deployments.first { $0.deployment == active }, deployments: deployments,
                knownGood: deployments.filter { $0.health == .knownGood }.map(\.deployment),
                history: try state.events(limit: 10), policy: decision, ledgerBacked: ledgerBacked)
            if global.json {
                try Output.json(result)
                return
            }
            if let current = result.active {
                Output.line(
                    "active: \(current.deployment.short)  release \(current.release.short)\(current.config.map { "  config \($0.short)" } ?? "")  env \(current.env ?? "-")  since \(current.activatedAt ?? "?")  health \(current.health.rawValue)"
                )
                switch current.health {
                case .pending:
                    Output.line(
                        "hint: the active deployment was never health-checked (a deploy was stopped mid-check); `fixity deploy \(current.release.short) --root \(root)` checks it now, `fixity rollback --root \(root)` returns to the last known-good"
                    )
                case .knownBad:
                    Output.line(
                        "hint: the active deployment is known-bad; `fixity rollback --root \(root)` returns to the last known-good"
                    )
                case .knownGood: break
                }
            } else {
                Output.line("active: none")
            }
            if let decision { Output.line(Self.policyLine(decision)) }
            var rows = [["", "DEPLOYMENT", "RELEASE", "CONFIG", "HEALTH", "ON DISK", "DEPLOYED"]]
            for record in deployments.reversed() {
                rows.append([
                    record.deployment == active ? "*" : "", record.deployment.short, record.release.short,
                    record.config?.short ?? "-",
                    record.health.rawValue,
                    record.materialized && deployRoot.isMaterialized(record.deployment) ? "yes" : "no",
                    String(record.deployedAt.prefix(19)) + "Z",
                ])
            }
            Output.line(Output.table(rows))
            if !result.history.isEmpty {
                Output.line("\nrecent:")
                for event in result.history {
                    Output.line(
                        "  \(event.seq)  \(event.time.prefix(19))Z  \(event.action)  \(Digest(parsing: event.subject)?.short ?? event.subject)\(event.details["reason"].map { "  (\($0))" } ?? "")"
                    )
                }
            }
        }
    }

    /// What `status` can say of the policy from this host alone: signatures and tests it
    /// judges; known-good in another environment it may not see (the fleet's known-good is
    /// its server's word), so it says that instead of calling the release refused.
    static func policyLine(_ decision: Policy.Decision) -> String {
        let env = decision.environment
        guard decision.governed else { return "policy: no policy for \(env): nothing is required" }
        let unseen = Set(decision.knownGoodUnseen)
        let judged = decision.missingJudgedHere
        let notSeen =
            unseen.isEmpty
            ? ""
            : "; known-good in \(unseen.sorted().joined(separator: ", ")) is not visible from this host (a fleet's known-good is its server's word: fixity env show \(env) --server URL), so it is not judged here"
        if judged.isEmpty {
            return "policy: the active release meets \(env)'s policy in force"
                + (unseen.isEmpty ? "" : " as far as this host can see" + notSeen)
        }
        return "policy: the active release would no longer pass \(env)'s policy: \(judged.joined(separator: "; "))"
            + notSeen
    }
}
