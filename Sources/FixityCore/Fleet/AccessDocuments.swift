/// The documents of access windows (docs/access.md): what people send and read (API keys), and
/// what an agent is told and answers (signed by the host). Every field a server takes is bounded
/// by `AccessLimits` and checked by `validate()`.

/// Bounds every window, command and output is held to.
public enum AccessLimits {
    /// Arguments in one command, and bytes in all of them.
    public static let maximumArguments = 256
    public static let maximumCommandBytes = 16 * 1024
    /// The longest a command may run (and never past its window's end).
    public static let maximumTimeout = 3600
    public static let defaultTimeout = 60
    /// Output kept per stream per command; the rest is counted and hashed, not kept.
    public static let keptOutput = 1 << 20
    /// Bytes of output in one progress message from an agent (per stream, before base64).
    public static let maximumChunk = 256 * 1024
    /// Hosts one window may name.
    public static let maximumHosts = 1000
    public static let maximumReason = 2000
}

/// `POST /v1/access/windows`.
public struct AccessWindowRequest: Codable, Sendable, Equatable {
    public let env: String
    /// Host names; empty: every host of the environment when the window is asked for.
    public let hosts: [String]
    public let reason: String
    public let ttlSeconds: Int

    public init(env: String, hosts: [String], reason: String, ttlSeconds: Int) {
        self.env = env
        self.hosts = hosts
        self.reason = reason
        self.ttlSeconds = ttlSeconds
    }

    enum CodingKeys: String, CodingKey { case env, hosts, reason, ttlSeconds = "ttl_seconds" }
}

/// The body of approve, deny and close: why (required to deny).
public struct AccessDecisionBody: Codable, Sendable, Equatable {
    public let reason: String?
    public init(reason: String?) { self.reason = reason }
}

/// One approver's say on a window.
public struct AccessApprovalView: Codable, Sendable, Equatable {
    public let approver: String
    /// approve or deny.
    public let decision: String
    public let reason: String?
    public let at: String

    public init(approver: String, decision: String, reason: String?, at: String) {
        self.approver = approver
        self.decision = decision
        self.reason = reason
        self.at = at
    }
}

/// One path a window left changed on a host, as the host found it at the window's end.
public struct AccessChangeView: Codable, Sendable, Equatable {
    public let host: String
    public let path: String
    public let kind: String
    /// What the deployment's manifest holds there (a digest, `symlink:…`, `dir`, nil: nothing).
    public let before: String?
    /// What the host found (nil: gone).
    public let after: String?

    public init(host: String, path: String, kind: String, before: String?, after: String?) {
        self.host = host
        self.path = path
        self.kind = kind
        self.before = before
        self.after = after
    }
}

/// What a window left on one host and what the host did about it.
public struct AccessHostOutcome: Codable, Sendable, Equatable {
    public let host: String
    /// waiting (the host has not reported the window's end yet), clean, reverted, proposed, failed.
    public let outcome: String
    public let changeCount: Int
    /// The release sealed from the changed tree (`after = "propose"`).
    public let proposal: String?
    public let reportedAt: String?
    public let detail: String?

    public init(
        host: String, outcome: String, changeCount: Int, proposal: String?, reportedAt: String?, detail: String?
    ) {
        self.host = host
        self.outcome = outcome
        self.changeCount = changeCount
        self.proposal = proposal
        self.reportedAt = reportedAt
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case host, outcome, changeCount = "change_count", proposal, reportedAt = "reported_at", detail
    }
}

/// A window as `fixity access list/show` prints it; `show` adds its commands and changes.
public struct AccessWindowView: Codable, Sendable, Equatable {
    public let id: Int64
    public let env: String
    public let hosts: [String]
    public let reason: String
    public let ttlSeconds: Int
    public let requester: String
    /// pending, open, denied, closed, expired.
    public let state: String
    /// What the policy in force at the request says becomes of what the window leaves.
    public let after: String
    public let approvalsNeeded: Int
    public let approvals: [AccessApprovalView]
    public let requestedAt: String
    public let openedAt: String?
    public let expiresAt: String?
    public let endedAt: String?
    public let endedBy: String?
    public let endReason: String?
    public let execs: [ExecView]?
    public let outcomes: [AccessHostOutcome]?
    public let changes: [AccessChangeView]?
    /// Commands asked under this window and refused (deny patterns, a host it does not cover…),
    /// from the ledger's `access-exec-refused` entries.
    public let refusals: [ExecRefusalView]?
    /// Covered hosts whose tree had drifted (by their last report) while the window was pending
    /// or open: what the requester and approvers must know before it opens. That drift is
    /// reported as before the window, never as its change.
    public var driftedHosts: [String]?

    public init(
        id: Int64, env: String, hosts: [String], reason: String, ttlSeconds: Int, requester: String, state: String,
        after: String, approvalsNeeded: Int, approvals: [AccessApprovalView], requestedAt: String, openedAt: String?,
        expiresAt: String?, endedAt: String?, endedBy: String?, endReason: String?, execs: [ExecView]?,
        outcomes: [AccessHostOutcome]?, changes: [AccessChangeView]?, refusals: [ExecRefusalView]? = nil
    ) {
        self.refusals = refusals
        self.id = id
        self.env = env
        self.hosts = hosts
        self.reason = reason
        self.ttlSeconds = ttlSeconds
        self.requester = requester
        self.state = state
        self.after = after
        self.approvalsNeeded = approvalsNeeded
        self.approvals = approvals
        self.requestedAt = requestedAt
        self.openedAt = openedAt
        self.expiresAt = expiresAt
        self.endedAt = endedAt
        self.endedBy = endedBy
        self.endReason = endReason
        self.execs = execs
        self.outcomes = outcomes
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey {
        case id, env, hosts, reason, ttlSeconds = "ttl_seconds", requester, state, after
        case approvalsNeeded = "approvals_needed", approvals, requestedAt = "requested_at", openedAt = "opened_at"
        case expiresAt = "expires_at", endedAt = "ended_at", endedBy = "ended_by", endReason = "end_reason", execs
        case outcomes, changes, refusals, driftedHosts = "drifted_hosts"
    }
}

/// A command refused under a window: who asked, for which host, what, when and why.
public struct ExecRefusalView: Codable, Sendable, Equatable {
    public let at: String
    public let by: String
    public let host: String
    public let argv: [String]
    public let reason: String

    public init(at: String, by: String, host: String, argv: [String], reason: String) {
        self.at = at
        self.by = by
        self.host = host
        self.argv = argv
        self.reason = reason
    }
}

/// `POST /v1/exec`: run `argv` on `host` under an open window of the caller's.
public struct ExecRequest: Codable, Sendable, Equatable {
    public let env: String
    public let host: String
    /// Nil: the caller's open window that covers the host.
    public let window: Int64?
    public let argv: [String]
    public let timeoutSeconds: Int

    public init(env: String, host: String, window: Int64?, argv: [String], timeoutSeconds: Int) {
        self.env = env
        self.host = host
        self.window = window
        self.argv = argv
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey { case env, host, window, argv, timeoutSeconds = "timeout_seconds" }

    /// Bounds on the command itself; the message names what is wrong.
    public static func validate(argv: [String]) throws(TrustError) {
        guard !argv.isEmpty, !argv[0].isEmpty else { throw TrustError("the command is empty") }
        guard argv.count <= AccessLimits.maximumArguments else {
            throw TrustError("the command has \(argv.count) arguments; at most \(AccessLimits.maximumArguments)")
        }
        guard argv.reduce(0, { $0 + $1.utf8.count }) <= AccessLimits.maximumCommandBytes else {
            throw TrustError("the command is over \(AccessLimits.maximumCommandBytes) bytes")
        }
        guard argv.allSatisfy({ !$0.utf8.contains(0) }) else { throw TrustError("a command argument holds a NUL byte") }
    }
}

/// A command and what it did so far. Output is base64 of the kept bytes from the offsets asked
/// for (`GET /v1/exec/{id}?stdout_from=&stderr_from=`), so a caller streams it by asking again.
public struct ExecView: Codable, Sendable, Equatable {
    public let id: Int64
    public let window: Int64
    public let host: String
    public let argv: [String]
    public let requestedBy: String
    /// queued, running, done, refused, cancelled.
    public let state: String
    public let requestedAt: String
    public let finishedAt: String?
    public let exitCode: Int?
    /// The signal that ended it (a timeout kills with SIGKILL).
    public let signal: Int?
    public let timedOut: Bool
    public let stdout: String
    public let stderr: String
    /// Bytes kept so far (the offsets to ask from next), and bytes produced in all.
    public let stdoutKept: Int
    public let stderrKept: Int
    public let stdoutBytes: Int64
    public let stderrBytes: Int64
    /// sha256 of each whole stream, as the host computed it.
    public let stdoutDigest: String?
    public let stderrDigest: String?
    public let reason: String?

    public init(
        id: Int64, window: Int64, host: String, argv: [String], requestedBy: String, state: String,
        requestedAt: String, finishedAt: String?, exitCode: Int?, signal: Int?, timedOut: Bool, stdout: String,
        stderr: String, stdoutKept: Int, stderrKept: Int, stdoutBytes: Int64, stderrBytes: Int64,
        stdoutDigest: String?, stderrDigest: String?, reason: String?
    ) {
        self.id = id
        self.window = window
        self.host = host
        self.argv = argv
        self.requestedBy = requestedBy
        self.state = state
        self.requestedAt = requestedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutKept = stdoutKept
        self.stderrKept = stderrKept
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
        self.stdoutDigest = stdoutDigest
        self.stderrDigest = stderrDigest
        self.reason = reason
    }

    public var finished: Bool { state == "done" || state == "refused" || state == "cancelled" }

    enum CodingKeys: String, CodingKey {
        case id, window, host, argv, requestedBy = "requested_by", state, requestedAt = "requested_at"
        case finishedAt = "finished_at", exitCode = "exit_code", signal, timedOut = "timed_out", stdout, stderr
        case stdoutKept = "stdout_kept", stderrKept = "stderr_kept", stdoutBytes = "stdout_bytes"
        case stderrBytes = "stderr_bytes", stdoutDigest = "stdout_digest", stderrDigest = "stderr_digest", reason
    }
}

/// A window as its hosts' agents are told of it (in `AgentDesired`).
public struct AgentWindow: Codable, Sendable, Equatable {
    public let id: Int64
    /// open, or ended (the host has not yet reported what the window left).
    public let state: String
    public let openedAt: String
    public let expiresAt: String

    public init(id: Int64, state: String, openedAt: String, expiresAt: String) {
        self.id = id
        self.state = state
        self.openedAt = openedAt
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey { case id, state, openedAt = "opened_at", expiresAt = "expires_at" }
}

/// A command waiting for a host (in `AgentDesired`).
public struct ExecOrder: Codable, Sendable, Equatable {
    public let id: Int64
    public let window: Int64
    public let argv: [String]
    public let timeoutSeconds: Int
    public let requestedBy: String

    public init(id: Int64, window: Int64, argv: [String], timeoutSeconds: Int, requestedBy: String) {
        self.id = id
        self.window = window
        self.argv = argv
        self.timeoutSeconds = timeoutSeconds
        self.requestedBy = requestedBy
    }

    enum CodingKeys: String, CodingKey {
        case id, window, argv, timeoutSeconds = "timeout_seconds", requestedBy = "requested_by"
    }
}

/// How a command ended, as the host says (signed).
public struct ExecResult: Codable, Sendable, Equatable {
    public let exitCode: Int?
    public let signal: Int?
    public let timedOut: Bool
    public let stdoutBytes: Int64
    public let stderrBytes: Int64
    public let stdoutDigest: String
    public let stderrDigest: String
    public let startedAt: String
    public let finishedAt: String
    /// Set when the host refused to run it (and then nothing ran).
    public let refused: String?

    public init(
        exitCode: Int?, signal: Int?, timedOut: Bool, stdoutBytes: Int64, stderrBytes: Int64, stdoutDigest: String,
        stderrDigest: String, startedAt: String, finishedAt: String, refused: String?
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
        self.stdoutDigest = stdoutDigest
        self.stderrDigest = stderrDigest
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.refused = refused
    }

    /// Nothing ran: the host refused the command (or could not start it), at `time`.
    public static func refused(_ reason: String, at time: String) -> ExecResult {
        let empty = Digest.of([UInt8]()).description
        return ExecResult(
            exitCode: nil, signal: nil, timedOut: false, stdoutBytes: 0, stderrBytes: 0, stdoutDigest: empty,
            stderrDigest: empty, startedAt: time, finishedAt: time, refused: reason)
    }

    enum CodingKeys: String, CodingKey {
        case exitCode = "exit_code", signal, timedOut = "timed_out", stdoutBytes = "stdout_bytes"
        case stderrBytes = "stderr_bytes", stdoutDigest = "stdout_digest", stderrDigest = "stderr_digest"
        case startedAt = "started_at", finishedAt = "finished_at", refused
    }
}

/// `POST /v1/agent/execs/{id}` (signed): the next piece of a command's output, and at the end
/// how it ended. `seq` counts the messages of one command from 1; the server takes each once.
public struct ExecProgress: Codable, Sendable, Equatable {
    public let seq: Int
    /// Base64.
    public let stdout: String
    public let stderr: String
    public let result: ExecResult?

    public init(seq: Int, stdout: String, stderr: String, result: ExecResult?) {
        self.seq = seq
        self.stdout = stdout
        self.stderr = stderr
        self.result = result
    }

    public func validate() throws(TrustError) {
        guard seq >= 1 else { throw TrustError("progress seq must be positive") }
        let limit = (AccessLimits.maximumChunk + 2) / 3 * 4
        guard stdout.utf8.count <= limit, stderr.utf8.count <= limit else {
            throw TrustError("a progress message carries more than \(AccessLimits.maximumChunk) bytes of a stream")
        }
        guard Base64.decode(stdout) != nil, Base64.decode(stderr) != nil else {
            throw TrustError("progress output is not base64")
        }
        if let result {
            for digest in [result.stdoutDigest, result.stderrDigest] where Digest(parsing: digest) == nil {
                throw TrustError("progress digest '\(digest.prefix(80))' is not sha256:<hex>")
            }
            guard result.stdoutBytes >= 0, result.stderrBytes >= 0 else {
                throw TrustError("progress byte counts must not be negative")
            }
            for time in [result.startedAt, result.finishedAt] where Instant(rfc3339: time) == nil {
                throw TrustError("progress time '\(time.prefix(40))' is not RFC 3339")
            }
            if let refused = result.refused, refused.utf8.count > AccessLimits.maximumReason * 2 {
                throw TrustError("progress refusal over \(AccessLimits.maximumReason * 2) bytes")
            }
        }
    }
}
