import FixityApp
import FixityCore
import FixityHost
import FixityStore
import Foundation

/// What had drifted on the root when an access window opened onto it: those changes are the
/// tree's before the window, never the window's. Taken with a full check the first time the
/// agent sees the window open, kept in `ROOT/.fixity/window-<id>.before` (an agent restarted
/// during the window still knows it), removed once the window's end is reported.
struct WindowBaseline: Codable, Sendable, Equatable {
    let window: Int64
    let takenAt: String
    /// Each drifted path and what it was found as ("modified sha256:…", "added dir", …).
    let drifted: [String: String]

    enum CodingKeys: String, CodingKey { case window, takenAt = "taken_at", drifted }

    /// How a change is told apart from the same path changed again under the window.
    static func state(_ change: ReportedChange) -> String { "\(change.kind) \(change.found ?? "-")" }

    /// The root's drift now (a full check), and the changes it is made of.
    static func capture(window: Int64, root: DeployRoot, store: Store) throws -> (WindowBaseline, [ReportedChange]) {
        let found = try VerifyRoot(root, full: true).run(in: store)
        let changes = WindowChanges.list(found.report, manifest: try store.manifest(found.release))
        let baseline = WindowBaseline(
            window: window, takenAt: Instant(store.clock.now()).description,
            drifted: Dictionary(changes.map { ($0.path, state($0)) }) { first, _ in first })
        return (baseline, changes)
    }

    static func file(_ window: Int64) -> String { "window-\(window).before" }

    static func load(window: Int64, root: DeployRoot) -> WindowBaseline? {
        guard let bytes = try? root.readState(file(window)) else { return nil }
        return try? JSONDecoder().decode(WindowBaseline.self, from: Data(bytes))
    }

    func save(root: DeployRoot) throws {
        try root.writeState(Self.file(window), JSONStyle.compact.bytes(self))
    }

    static func remove(window: Int64, root: DeployRoot) {
        try? root.removeState(file(window))
    }

    /// `changes` split into the window's own and those found exactly so before it opened.
    func split(_ changes: [ReportedChange]) -> (own: [ReportedChange], before: [ReportedChange]) {
        var own = [ReportedChange]()
        var before = [ReportedChange]()
        for change in changes {
            if drifted[change.path] == Self.state(change) { before.append(change) } else { own.append(change) }
        }
        return (own, before)
    }
}
