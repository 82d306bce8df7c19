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
            AdoptCommand.self, WatchCommand.self, LogCommand.self, KeyCommand.self, SignCommand.self, SignaturesCommand.self,
            AttestCommand.self, PolicyCommand.self, StateCommand.self, ProveCommand.self, VerifyBundleCommand.self, OCICommand.self,
            BenchSwitchCommand.self, BenchLedgerCommand.self,
            DemoCommand.self,
        ]
    )

    static func main() {
        fixity_install_interrupt_notice()
        main(nil)
    }
}
