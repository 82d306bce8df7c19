import FixityCore

/// What `verify` found, for humans, scripts and the ledger.
package struct VerifyOutcome: Sendable, Encodable {
    package let root: String
    package let deployment: Digest
    package let release: ReleaseID
    package let config: ReleaseID?
    package let full: Bool
    package let report: DriftReport
    package let entriesChecked: Int
    package let filesHashed: Int
    package let ignored: Int
    /// Why fast mode was not used, and other things worth saying.
    package let notes: [String]

    package var clean: Bool { report.clean }

    enum CodingKeys: String, CodingKey {
        case root, deployment, release, config, full, clean, modified, added, removed, modeChanged = "mode_changed"
        case typeChanged = "type_changed", unreadable, observed, entriesChecked = "entries_checked", filesHashed =
            "files_hashed", ignored, notes
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(root, forKey: .root)
        try c.encode(deployment, forKey: .deployment)
        try c.encode(release, forKey: .release)
        try c.encodeIfPresent(config, forKey: .config)
        try c.encode(full, forKey: .full)
        try c.encode(clean, forKey: .clean)
        try c.encode(report.modified, forKey: .modified)
        try c.encode(report.added, forKey: .added)
        try c.encode(report.removed, forKey: .removed)
        try c.encode(report.modeChanged, forKey: .modeChanged)
        try c.encode(report.typeChanged, forKey: .typeChanged)
        try c.encode(report.unreadable, forKey: .unreadable)
        // Per drifted path: what is there now (digest of a file's content, type, mode, link
        // target) and what the manifest said it was, where that differs.
        var observed = [String: [String: String]]()
        for (path, digest) in report.observed { observed[path, default: [:]]["digest"] = digest.description }
        for (path, state) in report.live {
            observed[path, default: [:]]["type"] = state.type
            if let mode = state.mode { observed[path, default: [:]]["mode"] = mode }
            if let target = state.target { observed[path, default: [:]]["target"] = target }
            if let was = state.was { observed[path, default: [:]]["was"] = was }
        }
        try c.encode(observed, forKey: .observed)
        try c.encode(entriesChecked, forKey: .entriesChecked)
        try c.encode(filesHashed, forKey: .filesHashed)
        try c.encode(ignored, forKey: .ignored)
        try c.encode(notes, forKey: .notes)
    }
}
