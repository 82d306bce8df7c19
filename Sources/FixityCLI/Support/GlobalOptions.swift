import ArgumentParser
import FixityStore
import Foundation

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The store folder (default: $FIXITY_STORE, else $XDG_DATA_HOME/fixity or ~/.local/share/fixity).")
    var store: String?

    @Flag(name: .long, help: "Print one JSON document on stdout; progress and logs go to stderr.")
    var json = false

    /// --store, else $FIXITY_STORE, else the XDG data folder.
    var storePath: String {
        let env = ProcessInfo.processInfo.environment
        if let store, !store.isEmpty { return store }
        if let path = env["FIXITY_STORE"], !path.isEmpty { return path }
        if let xdg = env["XDG_DATA_HOME"], xdg.hasPrefix("/") { return "\(xdg)/fixity" }
        return "\(env["HOME"] ?? "/root")/.local/share/fixity"
    }

    func openStore() throws -> Store {
        try Store.open(at: storePath)
    }

    /// Progress on stderr only for a person watching a terminal.
    var showsProgress: Bool { !json && isatty(1) == 1 && isatty(2) == 1 }
}
