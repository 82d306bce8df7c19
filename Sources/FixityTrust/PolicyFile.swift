import FixityConfig
import FixityCore
import FixityStore
import TOMLKit

/// The policy file (TOML) that `fixity policy set` takes, parsed strictly into a `Policy`:
/// unknown sections or keys, wrong types, keys that are not Ed25519, a threshold larger than
/// the trusted key list — each refused with the field named.
///
///     [keys]
///     ci = "ed25519:<base64 of the 32-byte public key>"
///     [environments.production]
///     trusted_keys = ["ci", "alice"]
///     threshold = 2
///     require_known_good_in = ["staging"]
///     require_tests = true
///     require_signed_config = true     # default: on whenever threshold > 0
///     drift = "repair"                 # agents heal drift at once (default "report")
///     [environments.production.access] # access windows (docs/access.md); absent: none
///     approvals = 2
///     approvers = ["alice", "bob", "carol"]
///     max_ttl = "1h"
///     deny_commands = ["^rm -rf /( |$)"]
///     after = "revert"                 # or "propose"
///     default_environment = "staging"  # (top level) what a deploy without --env means
///     [root]                           # who may sign the next policy (a server requires it)
///     keys = ["ed25519:<base64>", "ed25519:<base64>"]
///     threshold = 2
package enum PolicyFile {
    /// Policies parsed lately: an agent and a server judge by the same policy over and over.
    private static let parsed = ParseMemo<Policy>()

    package static func parse(_ text: String, name: String) throws -> Policy {
        try parsed.value(for: text) { try parseAnew(text, name: name) }
    }

    private static func parseAnew(_ text: String, name: String) throws -> Policy {
        func bad(_ message: String) -> StoreError { StoreError(.badInput, "policy \(name): \(message)") }
        return try TOMLDocument.read(text, describing: "policy \(name):") { table in
            var keys = [String: PublicKey]()
            var environments = [Policy.Environment]()
            var defaultEnvironment: String?
            var root: RootRole?
            for (section, value) in table {
                switch section {
                case "default_environment":
                    guard let name = value.string else {
                        throw bad("default_environment must be a string naming an environment")
                    }
                    defaultEnvironment = name
                case "keys":
                    guard let entries = value.table else { throw bad("[keys] must be a table") }
                    for (keyName, keyValue) in entries {
                        guard let text = keyValue.string else {
                            throw bad("keys.\(keyName) must be a string \"ed25519:<base64>\"")
                        }
                        do { keys[keyName] = try PublicKey(policyText: text) } catch let error as TrustError {
                            throw bad("keys.\(keyName): \(error.message)")
                        }
                    }
                case "environments":
                    guard let envs = value.table else {
                        throw bad("[environments] must hold [environments.NAME] tables")
                    }
                    for (envName, envValue) in envs {
                        guard let fields = envValue.table else { throw bad("environments.\(envName) must be a table") }
                        environments.append(try environment(envName, fields, bad: bad))
                    }
                case "root":
                    guard let fields = value.table else { throw bad("[root] must be a table") }
                    root = try rootRole(fields, bad: bad)
                default:
                    throw bad(
                        "unknown section [\(section)] (expected [keys], [environments.NAME], [root] and default_environment)"
                    )
                }
            }
            do {
                return try Policy(
                    keys: keys, environments: environments, defaultEnvironment: defaultEnvironment, root: root)
            } catch let error as TrustError {
                throw bad(error.message)
            }
        }
    }

    private static func rootRole(_ fields: TOMLTable, bad: (String) -> StoreError) throws -> RootRole {
        var keys: [PublicKey] = []
        var threshold: Int?
        for (key, value) in fields {
            switch key {
            case "keys":
                guard let array = value.array else { throw bad("root.keys must be a list of \"ed25519:<base64>\"") }
                for (index, item) in array.enumerated() {
                    guard let text = item.string else { throw bad("root.keys[\(index)] must be a string") }
                    do { keys.append(try PublicKey(policyText: text)) } catch {
                        throw bad("root.keys[\(index)]: \(error.message)")
                    }
                }
            case "threshold":
                guard let number = value.int else { throw bad("root.threshold must be an integer") }
                threshold = number
            default: throw bad("unknown field root.\(key) (known: keys, threshold)")
            }
        }
        guard let threshold else { throw bad("root.threshold is required") }
        do { return try RootRole(keys: keys, threshold: threshold) } catch { throw bad(error.message) }
    }

    private static func environment(_ name: String, _ fields: TOMLTable, bad: (String) -> StoreError) throws
        -> Policy.Environment
    {
        var trusted = [String]()
        var threshold: Int?
        var knownGood = [String]()
        var tests = false
        var signedConfig: Bool?
        var drift = DriftResponse.report
        var access: AccessRules?
        func strings(_ value: TOMLValueConvertible, _ key: String) throws -> [String] {
            guard let array = value.array else { throw bad("environments.\(name).\(key) must be a list of strings") }
            let items = array.compactMap(\.string)
            guard items.count == array.count else { throw bad("environments.\(name).\(key) must be a list of strings") }
            return items
        }
        for (key, value) in fields {
            switch key {
            case "trusted_keys": trusted = try strings(value, key)
            case "threshold":
                guard let number = value.int else { throw bad("environments.\(name).threshold must be an integer") }
                threshold = number
            case "require_known_good_in": knownGood = try strings(value, key)
            case "require_tests":
                guard let flag = value.bool else {
                    throw bad("environments.\(name).require_tests must be true or false")
                }
                tests = flag
            case "require_signed_config":
                guard let flag = value.bool else {
                    throw bad("environments.\(name).require_signed_config must be true or false")
                }
                signedConfig = flag
            case "drift":
                guard let text = value.string, let response = DriftResponse(rawValue: text) else {
                    throw bad("environments.\(name).drift must be \"report\" or \"repair\"")
                }
                drift = response
            case "access":
                guard let table = value.table else { throw bad("[environments.\(name).access] must be a table") }
                access = try accessRules(name, table, bad: bad)
            default:
                throw bad(
                    "unknown field environments.\(name).\(key) (known: trusted_keys, threshold, require_known_good_in, require_tests, require_signed_config, drift, access)"
                )
            }
        }
        // With trusted keys and no threshold, one signature is what an operator would expect.
        let effectiveThreshold = threshold ?? (trusted.isEmpty ? 0 : 1)
        // An environment that requires signed releases requires signed configs too, unless it
        // says otherwise: an unsigned config release can place any file in the live tree.
        return Policy.Environment(
            name: name, trustedKeys: trusted, threshold: effectiveThreshold, requireKnownGoodIn: knownGood,
            requireTests: tests, requireSignedConfig: signedConfig ?? (effectiveThreshold > 0), drift: drift,
            access: access)
    }

    private static func accessRules(_ env: String, _ fields: TOMLTable, bad: (String) -> StoreError) throws
        -> AccessRules
    {
        let field = "environments.\(env).access"
        var approvals: Int?
        var approvers: [String]?
        var maxTTL: Int?
        var deny = [String]()
        var after = AccessAfter.revert
        func strings(_ value: TOMLValueConvertible, _ key: String) throws -> [String] {
            guard let array = value.array else { throw bad("\(field).\(key) must be a list of strings") }
            let items = array.compactMap(\.string)
            guard items.count == array.count else { throw bad("\(field).\(key) must be a list of strings") }
            return items
        }
        for (key, value) in fields {
            switch key {
            case "approvals":
                guard let number = value.int else { throw bad("\(field).approvals must be an integer") }
                approvals = number
            case "approvers": approvers = try strings(value, key)
            case "max_ttl":
                guard let text = value.string else { throw bad("\(field).max_ttl must be a duration such as \"1h\"") }
                do {
                    maxTTL = try HumanDuration.seconds(text, maximum: AccessRules.longestTTL, what: "\(field).max_ttl")
                } catch { throw bad(error.message) }
            case "deny_commands": deny = try strings(value, key)
            case "after":
                guard let text = value.string, let choice = AccessAfter(rawValue: text) else {
                    throw bad("\(field).after must be \"revert\" or \"propose\"")
                }
                after = choice
            default:
                throw bad("unknown field \(field).\(key) (known: approvals, approvers, max_ttl, deny_commands, after)")
            }
        }
        guard let approvals else { throw bad("\(field).approvals is required") }
        guard let approvers else { throw bad("\(field).approvers is required (API key names)") }
        guard let maxTTL else { throw bad("\(field).max_ttl is required (e.g. \"1h\")") }
        do {
            return try AccessRules(
                approvals: approvals, approvers: approvers, maxTTLSeconds: maxTTL, denyCommands: deny, after: after,
                env: env)
        } catch {
            throw bad(error.message)
        }
    }
}
