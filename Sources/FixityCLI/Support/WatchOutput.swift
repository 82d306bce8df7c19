import FixityCore
import FixityHost
import FixityStore
import Foundation
import Glibc

/// How `fixity watch` shows the watcher's events: one JSON line on stdout per change of drift
/// state or repair (DESIGN.md: the fields of `verify --json` plus `event`, `cause`, `time`), a
/// notice about the watch itself on stderr, and, with `--metrics-file`, Prometheus gauges after
/// every check.
struct WatchOutput {
    let root: DeployRoot
    let metricsFile: String?

    func show(_ event: WatchEvent) throws {
        switch event {
        case .stateChanged(let outcome, let cause, let time):
            try line(event: outcome.clean ? "clean" : "drift", cause: cause, time: time, outcome: outcome, extra: [:])
        case .repaired(let after, let cause, let evidence, let time):
            try line(event: "repaired", cause: cause, time: time, outcome: after, extra: ["evidence": evidence ?? ""])
        case .checked(let outcome, let time):
            if let metricsFile { try writeMetrics(outcome, at: time, to: metricsFile) }
        case .notice(let notice):
            StandardStream.error.write(Data("fixity watch: \(notice)\n".utf8))
        }
    }

    private func line(event: String, cause: WatchCause, time: Date, outcome: VerifyOutcome, extra: [String: String])
        throws
    {
        let fields = extra.merging(["event": event, "cause": cause.rawValue, "time": Instant(time).description]) {
            _, fixed in fixed
        }
        var bytes = JSONStyle.compact.bytes(WatchLine(outcome: outcome, fields: fields))
        bytes.append(UInt8(ascii: "\n"))
        StandardStream.output.write(Data(bytes))
    }

    /// Prometheus text format for node_exporter's textfile collector, replaced all or nothing.
    private func writeMetrics(_ outcome: VerifyOutcome, at time: Date, to path: String) throws {
        let label =
            "root=\"\(root.key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        let r = outcome.report
        let drifted = r.modified.count + r.added.count + r.removed.count + r.modeChanged.count + r.typeChanged.count
        let text = """
            # HELP fixity_drift 1 when the live tree differs from its deployment's manifest.
            # TYPE fixity_drift gauge
            fixity_drift{\(label)} \(outcome.clean ? 0 : 1)
            # HELP fixity_drift_paths Paths that differ from the manifest.
            # TYPE fixity_drift_paths gauge
            fixity_drift_paths{\(label)} \(drifted)
            # HELP fixity_last_verify_timestamp_seconds When the tree was last verified.
            # TYPE fixity_last_verify_timestamp_seconds gauge
            fixity_last_verify_timestamp_seconds{\(label)} \(String(format: "%.3f", time.timeIntervalSince1970))
            # HELP fixity_files_checked Entries checked by the last verify.
            # TYPE fixity_files_checked gauge
            fixity_files_checked{\(label)} \(outcome.entriesChecked)

            """
        try DurableFile.replace(path, with: Array(text.utf8))
    }
}

/// One line of `watch` output: the verify outcome's fields with the event's own beside them, in
/// one flat object (encoded in one pass: the outcome and the extra keys share a container).
private struct WatchLine: Encodable {
    let outcome: VerifyOutcome
    let fields: [String: String]

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        try outcome.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in fields { try container.encode(value, forKey: Key(stringValue: key)) }
    }
}
