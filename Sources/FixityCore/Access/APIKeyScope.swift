/// What an API key may do on a server (`fixity serve`). A request is allowed when the key holds
/// its scope or `admin`.
public enum APIKeyScope: Hashable, Sendable, Comparable, CustomStringConvertible {
    case releaseRead
    case releasePush
    /// Set an environment's desired state (its policy still decides).
    case promote(env: String)
    case policyWrite
    case ledgerRead
    /// Enroll a host into an environment.
    case hostEnroll(env: String)
    /// Ask for an access window onto an environment's hosts, and run commands in it.
    case accessRequest(env: String)
    /// Approve or deny others' windows (the policy's `approvers` must name the key too).
    case accessApprove(env: String)
    case admin

    /// The spellings, as `--scope` takes them and the key list shows them.
    public static let forms = [
        "release:read", "release:push", "promote:ENV", "policy:write", "ledger:read", "host:enroll:ENV",
        "access:request:ENV",
        "access:approve:ENV", "admin",
    ]

    public init(parsing text: String) throws(AccessError) {
        func env(_ name: Substring) throws(AccessError) -> String {
            guard Self.isEnvironmentName(name) else {
                throw AccessError(
                    .badInput,
                    "scope '\(text)': an environment name is 1-64 characters of lowercase letters, digits, '.', '_', '-', starting with a letter or digit"
                )
            }
            return String(name)
        }
        switch text {
        case "release:read": self = .releaseRead
        case "release:push": self = .releasePush
        case "policy:write": self = .policyWrite
        case "ledger:read": self = .ledgerRead
        case "admin": self = .admin
        case _ where text.hasPrefix("promote:"): self = .promote(env: try env(text.dropFirst("promote:".count)))
        case _ where text.hasPrefix("host:enroll:"):
            self = .hostEnroll(env: try env(text.dropFirst("host:enroll:".count)))
        case _ where text.hasPrefix("access:request:"):
            self = .accessRequest(env: try env(text.dropFirst("access:request:".count)))
        case _ where text.hasPrefix("access:approve:"):
            self = .accessApprove(env: try env(text.dropFirst("access:approve:".count)))
        default:
            throw AccessError(
                .badInput, "unknown scope '\(text)' (one of: \(Self.forms.joined(separator: ", ")))")
        }
    }

    public var description: String {
        switch self {
        case .releaseRead: "release:read"
        case .releasePush: "release:push"
        case .promote(let env): "promote:\(env)"
        case .policyWrite: "policy:write"
        case .ledgerRead: "ledger:read"
        case .hostEnroll(let env): "host:enroll:\(env)"
        case .accessRequest(let env): "access:request:\(env)"
        case .accessApprove(let env): "access:approve:\(env)"
        case .admin: "admin"
        }
    }

    public static func < (lhs: APIKeyScope, rhs: APIKeyScope) -> Bool { lhs.description < rhs.description }

    /// Whether a key holding `held` may do what needs `self`.
    public func isGranted(by held: Set<APIKeyScope>) -> Bool { held.contains(.admin) || held.contains(self) }

    static func isEnvironmentName(_ name: Substring) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first, isLowerAlnum(first) else { return false }
        return name.utf8.allSatisfy {
            isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// A refused or malformed API key operation; the message names the key (by name or id, never
/// by its secret), the scope or the duration it is about.
public struct AccessError: FixityError, Sendable {
    public let category: ErrorCategory
    public let message: String
    public var description: String { message }

    public init(_ category: ErrorCategory, _ message: String) {
        self.category = category
        self.message = message
    }
}
