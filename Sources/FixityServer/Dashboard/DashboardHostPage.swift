import FixityCore
import Foundation

/// One host's page: what it runs, its open drift with paths and digests, the evidence its
/// repairs kept, its health results with their output's tail, and its deployments — all from
/// its own signed reports (the newest `reportsShown`).
struct DashboardHostPage {
    static let reportsShown = 200
    /// Bytes of a kept file shown inline (the rest is in the host's evidence folder).
    static let contentShown = 4096

    struct Change {
        let path: String
        let kind: String
        let expected: ShownDigest?
        let found: ShownDigest?
    }
    struct EvidenceFile {
        let path: String
        let kind: String
        let digest: ShownDigest?
        let size: String
        let mode: String
        let content: String?
    }
    struct Evidence {
        let event: String
        let at: Moment?
        let folder: String?
        let files: [EvidenceFile]
    }
    struct Health {
        let result: String
        let at: Moment?
        let release: ShownDigest?
        let command: String?
        let exitCode: Int?
        let seconds: String
        let tail: String?
    }
    struct Deployment {
        let at: Moment?
        let event: String
        let release: ShownDigest?
        let deployment: String?
        let reason: String?
    }

    let chrome: Chrome
    let name: String
    let env: String
    let state: String
    let detail: String?
    let key: ShownDigest
    let enrolled: Moment?
    let revoked: Moment?
    let release: ShownDigest?
    let desired: ShownDigest?
    let lastReport: Moment?
    let drift: [Change]
    let hasDrift: Bool
    let driftAt: Moment?
    let driftState: String?
    let driftWindow: Int64?
    let evidence: [Evidence]
    let health: [Health]
    let deployments: [Deployment]
    let hasDeployments: Bool
    let reportCount: Int
    let rendered: String

    /// The newest report of drift or repair: the drift the page lists, if still open.
    static func newestDrift(_ history: HostHistory) -> HostHistory.Received? {
        history.reports.first { $0.report.event == .drift || $0.report.event == .repaired }
    }

    /// `expected`: the digests the release's manifest holds for the drifted paths (agents report
    /// what they found; what should be there is the server's own copy of the manifest).
    init(_ history: HostHistory, expected: [String: String], chrome: Chrome, now: Instant) {
        let host = history.host
        let reports = history.reports
        self.chrome = chrome
        name = host.name
        env = host.env
        state = host.state
        detail = host.detail
        key = ShownDigest(host.keyID)
        enrolled = Moment(host.enrolledAt, now: now)
        revoked = Moment(host.revokedAt, now: now)
        release = host.release.map(ShownDigest.release)
        desired = host.desired.map(ShownDigest.release)
        lastReport = Moment(host.lastReportAt, now: now)
        // The open drift is what the newest drift report listed, while the host says it is
        // still there (the host view's paths); repaired or reverted drift is history.
        let newestDrift = Self.newestDrift(history)
        if !host.drift.isEmpty, let newestDrift {
            drift = newestDrift.report.changes.map {
                Change(
                    path: $0.path, kind: $0.kind, expected: ($0.expected ?? expected[$0.path]).map { ShownDigest($0) },
                    found: $0.found.map { ShownDigest($0) })
            }
            driftAt = Moment(newestDrift.receivedAt, now: now)
            driftState = newestDrift.report.driftState
            driftWindow = newestDrift.report.window
        } else {
            drift = []
            driftAt = nil
            driftState = nil
            driftWindow = nil
        }
        hasDrift = !drift.isEmpty
        evidence = reports.compactMap { received in
            guard let files = received.report.evidenceFiles, !files.isEmpty else { return nil }
            return Evidence(
                event: received.report.event.rawValue, at: Moment(received.receivedAt, now: now),
                folder: received.report.evidence,
                files: files.map { file in
                    EvidenceFile(
                        path: file.path, kind: file.kind, digest: file.digest.map { ShownDigest($0) },
                        size: ByteCount.text(file.size), mode: file.mode, content: Self.preview(file))
                })
        }
        health = reports.compactMap { received in
            guard let health = received.report.health else { return nil }
            return Health(
                result: health.result, at: Moment(received.receivedAt, now: now),
                release: (received.report.attempted ?? received.report.release).map(ShownDigest.release),
                command: health.command, exitCode: health.exitCode, seconds: String(format: "%.2f", health.seconds),
                tail: health.outputTail.isEmpty ? nil : health.outputTail)
        }
        deployments = reports.compactMap { received in
            let report = received.report
            guard [.deployed, .rolledBack, .refused].contains(report.event) else { return nil }
            return Deployment(
                at: Moment(received.receivedAt, now: now), event: report.event.rawValue,
                release: (report.attempted ?? report.release).map(ShownDigest.release), deployment: report.deployment,
                reason: report.reason)
        }
        hasDeployments = !deployments.isEmpty
        reportCount = reports.count
        rendered = now.wholeSecondsText
    }

    /// A kept file's bytes as text when they are UTF-8 (a binary file shows its note instead).
    static func preview(_ file: ReportedEvidence) -> String? {
        guard let content = file.content, let bytes = Base64.decode(content) else { return file.note }
        guard let text = String(validating: bytes.prefix(contentShown), as: UTF8.self) else {
            return "(\(bytes.count) bytes, not text)"
        }
        return bytes.count > contentShown ? text + "\n… (\(bytes.count - contentShown) more bytes)" : text
    }
}
