import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// `fixity promote REF --env ENV`: asks the server to make REF the environment's desired state.
/// The server decides under its policy — the same evaluator as a local `deploy --env` — and
/// either sets it (a ledger entry) or refuses with the policy's reason (exit 2).
struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Set an environment's desired state on a server, if its policy allows.",
        discussion: "Needs a key with promote:ENV. The release must be on the server (fixity push).")

    @Argument(help: "The release on the server: sha256:<hex>, a unique hex prefix, or APP@VERSION.") var ref: String
    @Option(help: "The environment.") var env: String
    @OptionGroup var connection: ServerConnectionOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            _ = try parseRef(ref)
            _ = try APIKeyScope(parsing: "promote:\(env)")
            let body = ["release": ref]
            let desired = try connection.session { client -> DesiredState in
                try await client.document(.POST, "/v1/environments/\(env)/promote", body: body)
            }
            if global.json { return try Output.json(desired) }
            Output.line("\(env) -> \(desired.release) (desired state #\(desired.seq), policy \(desired.policy.short))")
        }
    }
}

/// `fixity env show ENV`: what the server says an environment should run, and under which policy.
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Environments on a server.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An environment's desired state and the policy in force (a release:read key is enough).")
        @Argument(help: "The environment.") var env: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                _ = try APIKeyScope(parsing: "promote:\(env)")
                let view = try connection.session { client -> EnvironmentView in
                    try await client.document(.GET, "/v1/environments/\(env)")
                }
                if global.json { return try Output.json(view) }
                Output.line("environment \(view.env)")
                if let desired = view.desired {
                    Output.line(
                        "  desired  \(desired.release) (#\(desired.seq), set \(desired.setAt) by key \(desired.key))")
                } else {
                    Output.line("  desired  none yet")
                }
                Output.line("  policy   \(view.policy?.description ?? "none set")")
                if let rules = view.rules {
                    Output.line(
                        "  rules    \(rules.threshold) of [\(rules.trustedKeys.joined(separator: ", "))]"
                            + (rules.requireKnownGoodIn.isEmpty
                                ? "" : "; known-good in \(rules.requireKnownGoodIn.joined(separator: ", "))")
                            + (rules.requireTests ? "; passing tests" : ""))
                } else if view.policy != nil {
                    Output.line("  rules    the policy does not define \(view.env): promotions to it are refused")
                }
            }
        }
    }
}
