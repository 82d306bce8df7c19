import ArgumentParser
import CFixitySys

@main
struct Fixity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixity",
        abstract: "Sealed, signed, immutable releases for production hosts.",
        discussion: """
            Exit codes: 0 success; 1 a finding (verify found drift, fsck or log verify found corruption) or a deploy or rollback whose \
            health check failed and was undone; 2 refused or failed (bad input, policy, a corrupt object, I/O, a held lock); 64 usage. \
            With --json, a failure also prints {"error": {"category", "message"}} on stdout.
            """,
        version: FixityVersion.current,
        subcommands: [
            SealCommand.self, TagCommand.self, ReleasesCommand.self, ShowCommand.self, DiffCommand.self,
            CatCommand.self, ExportCommand.self, FsckCommand.self, GCCommand.self, DeployCommand.self,
            RollbackCommand.self, StatusCommand.self, VerifyCommand.self, RepairCommand.self, EvidenceCommand.self,
            AdoptCommand.self, WatchCommand.self, LogCommand.self, KeyCommand.self, SignCommand.self,
            SignaturesCommand.self,
            AttestCommand.self, PolicyCommand.self, StateCommand.self, ProveCommand.self, VerifyBundleCommand.self,
            OCICommand.self, PushCommand.self, PullCommand.self, PromoteCommand.self, EnvCommand.self, KeysCommand.self,
            ServerCommand.self, ServeCommand.self, HostCommand.self, AgentCommand.self, RolloutCommand.self,
            AccessCommand.self, ExecCommand.self,
            BenchSwitchCommand.self, BenchLedgerCommand.self,
            DemoCommand.self,
        ]
    )

    static func main() {
        fixity_install_interrupt_notice()
        if let command = parsedDirectly() {
            var command = command
            do {
                try command.run()
            } catch {
                exit(withError: error)
            }
            return
        }
        main(nil)
    }

    /// The named subcommand parsed on its own, skipping the parse of the whole command tree: for
    /// a command run every few seconds (`verify` in a loop, `status` from monitoring) that parse
    /// was a quarter of a `fixity --version` — ArgumentParser reflects over every subcommand and
    /// checks for a completion-script request first. Anything this parse does not accept (help,
    /// a usage error, `--version`, a completion request) returns nil, and the full parse runs and
    /// answers exactly as it always has.
    private static func parsedDirectly() -> ParsableCommand? {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // Help is the full parse's to print: parsed alone, a subcommand's usage line lost its
        // `fixity` ("USAGE: key generate …").
        guard !arguments.contains(where: { $0 == "-h" || $0 == "--help" || $0 == "help" }) else { return nil }
        guard let name = arguments.first, !name.hasPrefix("-"),
            let type = configuration.subcommands.first(where: { $0.configuration.commandName == name })
        else { return nil }
        return try? type.parseAsRoot(Array(arguments.dropFirst()))
    }
}
