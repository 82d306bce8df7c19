/// What happens to the changes a window leaves on a host when it ends (docs/access.md).
public enum AccessAfter: String, Sendable, Equatable, Codable, CaseIterable {
    /// The deployment is restored (a repair: what was found kept as evidence).
    case revert
    /// The changed tree is sealed as a release proposal; it stays live, reported as drift,
    /// until a promotion replaces it — the proposal itself goes through promotion and policy.
    case propose
}

/// `[environments.NAME.access]`: who may open a window onto the environment's hosts, for how
/// long, which commands are refused before they run, and what becomes of what a window left.
/// Absent: no window can ever open there (and an agent runs no command for anyone).
public struct AccessRules: Sendable, Equatable {
    /// Distinct approvers a window needs to open; the requester never counts.
    public let approvals: Int
    /// API key names that may approve (they also need the scope `access:approve:ENV`).
    public let approvers: [String]
    /// The longest a window may be asked for.
    public let maxTTLSeconds: Int
    /// Regular expressions over the command line (arguments joined by single spaces); a
    /// command matching any is refused by the server and again by the agent.
    public let denyCommands: [String]
    public let after: AccessAfter

    public static let longestTTL = 86_400
    public static let maximumPatterns = 64

    public init(
        approvals: Int, approvers: [String], maxTTLSeconds: Int, denyCommands: [String], after: AccessAfter,
        env: String
    ) throws(TrustError) {
        let field = "environments.\(env).access"
        guard approvals >= 1 else { throw TrustError("\(field).approvals must be at least 1") }
        guard Set(approvers).count == approvers.count else { throw TrustError("\(field).approvers lists a name twice") }
        guard approvers.count >= approvals else {
            throw TrustError(
                "\(field).approvals \(approvals) is more than its \(approvers.count) approvers: no window could ever open"
            )
        }
        guard (60...Self.longestTTL).contains(maxTTLSeconds) else {
            throw TrustError("\(field).max_ttl must be 1m to 24h")
        }
        guard denyCommands.count <= Self.maximumPatterns else {
            throw TrustError("\(field).deny_commands holds more than \(Self.maximumPatterns) patterns")
        }
        for (index, pattern) in denyCommands.enumerated() {
            do { _ = try Regex(pattern) } catch {
                throw TrustError("\(field).deny_commands[\(index)] '\(pattern.prefix(80))' is not a regular expression")
            }
        }
        self.approvals = approvals
        self.approvers = approvers
        self.maxTTLSeconds = maxTTLSeconds
        self.denyCommands = denyCommands
        self.after = after
    }

    /// The command line the deny patterns are matched against.
    public static func commandLine(_ argv: [String]) -> String { argv.joined(separator: " ") }

    /// `argv` as a shell would need it typed (each argument quoted when it has to be): for
    /// people, so `sh -c 'echo "x" >> f'` reads as the three arguments it is. Deny patterns
    /// still match `commandLine`, the plain join, as docs/access.md says.
    public static func shellQuoted(_ argv: [String]) -> String {
        argv.map { argument in
            let plain =
                !argument.isEmpty
                && argument.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"):
                        return true
                    default: return "-_./=:,+@%".utf8.contains(byte)
                    }
                }
            return plain
                ? argument
                : "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''")
                    + "'"
        }.joined(separator: " ")
    }

    /// The first deny pattern `argv` matches; nil when it may run. (The patterns compiled when
    /// the policy was read; one that no longer compiles refuses everything: fail closed.)
    public func deniedPattern(for argv: [String]) -> String? {
        let line = Self.commandLine(argv)
        for pattern in denyCommands {
            guard let regex = try? Regex(pattern) else { return pattern }
            if (try? regex.firstMatch(in: line)) != nil { return pattern }
        }
        return nil
    }
}
