import FixityCore
import FixityStore
import FixityTrust
import Testing

/// `[environments.NAME.access]` read strictly (in memory): each mistake refused with the field
/// named, and the deny patterns matched the way the server and the agent both match them.
struct AccessRulesTests {
    static func policy(_ access: String) -> String {
        "[environments.prod]\n[environments.prod.access]\n" + access
    }

    @Test func aGoodTableIsRead() throws {
        let policy = try PolicyFile.parse(
            Self.policy(
                """
                approvals = 2
                approvers = ["alice", "bob", "carol"]
                max_ttl = "1h"
                deny_commands = ["^rm -rf /", "mkfs", "^dd "]
                after = "propose"
                """), name: "t")
        let rules = try #require(policy.environments["prod"]?.access)
        #expect(rules.approvals == 2 && rules.approvers == ["alice", "bob", "carol"])
        #expect(rules.maxTTLSeconds == 3600 && rules.after == .propose)
        #expect(rules.deniedPattern(for: ["rm", "-rf", "/var"]) == "^rm -rf /")
        #expect(rules.deniedPattern(for: ["sudo", "mkfs.ext4", "/dev/sda"]) == "mkfs")
        #expect(rules.deniedPattern(for: ["dd", "if=/dev/zero"]) == "^dd ")
        #expect(rules.deniedPattern(for: ["echo", "dd "]) == nil, "anchored: only at the start")
        #expect(rules.deniedPattern(for: ["ls", "-l"]) == nil)
        // No table: no windows at all; `after` defaults to revert.
        #expect(try PolicyFile.parse("[environments.prod]\n", name: "t").environments["prod"]?.access == nil)
        let plain = try PolicyFile.parse(
            Self.policy("approvals = 1\napprovers = [\"a\"]\nmax_ttl = \"30m\"\n"), name: "t")
        #expect(plain.environments["prod"]?.access?.after == .revert)
    }

    @Test(arguments: [
        ("approvals = 0\napprovers = [\"a\"]\nmax_ttl = \"1h\"", "approvals must be at least 1"),
        ("approvals = 3\napprovers = [\"a\", \"b\"]\nmax_ttl = \"1h\"", "no window could ever open"),
        ("approvals = 1\napprovers = [\"a\", \"a\"]\nmax_ttl = \"1h\"", "lists a name twice"),
        ("approvals = 1\napprovers = [\"a\"]\nmax_ttl = \"2d\"", "max_ttl"),
        ("approvals = 1\napprovers = [\"a\"]\nmax_ttl = \"30s\"", "max_ttl must be 1m to 24h"),
        ("approvals = 1\napprovers = [\"a\"]", "max_ttl is required"),
        ("approvers = [\"a\"]\nmax_ttl = \"1h\"", "approvals is required"),
        ("approvals = 1\nmax_ttl = \"1h\"", "approvers is required"),
        (
            "approvals = 1\napprovers = [\"a\"]\nmax_ttl = \"1h\"\ndeny_commands = [\"(unclosed\"]",
            "not a regular expression"
        ),
        (
            "approvals = 1\napprovers = [\"a\"]\nmax_ttl = \"1h\"\nafter = \"keep\"",
            "after must be \"revert\" or \"propose\""
        ),
        (
            "approvals = 1\napprovers = [\"a\"]\nmax_ttl = \"1h\"\napprovalz = 2",
            "unknown field environments.prod.access.approvalz"
        ),
        ("approvals = \"two\"\napprovers = [\"a\"]\nmax_ttl = \"1h\"", "approvals must be an integer"),
    ])
    func badTablesAreRefused(_ body: String, _ problem: String) {
        do {
            _ = try PolicyFile.parse(Self.policy(body), name: "t")
            Issue.record("accepted: \(body)")
        } catch let error as StoreError {
            #expect(error.message.contains(problem), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func commandsAreBoundedBeforeTheyTravel() {
        #expect(throws: TrustError.self) { try ExecRequest.validate(argv: []) }
        #expect(throws: TrustError.self) { try ExecRequest.validate(argv: [""]) }
        #expect(throws: TrustError.self) { try ExecRequest.validate(argv: Array(repeating: "x", count: 257)) }
        #expect(throws: TrustError.self) {
            try ExecRequest.validate(argv: ["sh", String(repeating: "x", count: 17000)])
        }
        #expect(throws: TrustError.self) { try ExecRequest.validate(argv: ["a\u{0}b"]) }
        #expect(throws: Never.self) { try ExecRequest.validate(argv: ["true"]) }
    }
}
