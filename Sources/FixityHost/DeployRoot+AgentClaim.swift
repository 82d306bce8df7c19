import FixityCore
import FixityStore
import Foundation
import Glibc

/// An agent keeps a root for as long as it runs, and a root is kept by one host identity:
///
///     ROOT/.fixity/agent.lock    flock held by the running agent (its pid and host in agent.owner)
///     ROOT/.fixity/agent.host    "<host key id> <host name>": the identity this root belongs to
///
/// Without them a second agent (the same identity started twice, or another host's identity and
/// store pointed at this root) ran beside the first, deployed into its root and reported it as
/// itself.
extension DeployRoot {
    /// Who claims the root: the host's name and its key id.
    package struct AgentOwner: Sendable, Equatable {
        package let host: String
        package let keyID: String
        package init(host: String, keyID: String) {
            self.host = host
            self.keyID = keyID
        }
    }

    /// Claims the root for `owner`, refusing at once (`.locked`) when another agent holds it and
    /// (`.refused`) when it belongs to another identity. The claim lasts as long as the lock.
    package func claimForAgent(_ owner: AgentOwner) throws -> FileLock {
        let lockPath = "\(path)/.fixity/agent.lock"
        let lock: FileLock
        do {
            lock = try FileLock(path: lockPath, kind: .exclusive, timeout: 0, purpose: "agent")
        } catch let error as StoreError where error.code == .locked {
            let holder = (try? readSmallFile(stateFD, "agent.owner"))?.trimmingCharacters(in: [" ", "\n"])
            throw StoreError(
                .locked,
                "root \(path) is kept by another running agent (\(holder ?? "holder unknown")); one agent per root",
                path: lockPath)
        }
        if let text = try? readSmallFile(stateFD, "agent.host") {
            let parts = text.trimmingCharacters(in: [" ", "\n"]).split(separator: " ", maxSplits: 1)
            if parts.count == 2, String(parts[0]) != owner.keyID {
                throw StoreError(
                    .refused,
                    "root \(path) belongs to host \(parts[1]) (key \(parts[0].prefix(16))); this agent is host \(owner.host) (key \(owner.keyID.prefix(16))). If the root was handed to a new identity on purpose (a reinstalled host), remove \(path)/.fixity/agent.host",
                    path: "\(path)/.fixity/agent.host")
            }
        } else {
            try writeState("agent.host", Array("\(owner.keyID) \(owner.host)\n".utf8))
        }
        try writeState("agent.owner", Array("pid \(getpid()), host \(owner.host)\n".utf8))
        return lock
    }

    // MARK: files of the root's own state, beneath its `.fixity` descriptor (never a path)

    /// A state file replaced all or nothing (mode 0600).
    package func writeState(_ name: String, _ bytes: [UInt8]) throws {
        try DurableFile.replace(name, in: stateFD, folder: "\(path)/.fixity", with: bytes, mode: 0o600)
    }

    /// A state file whole, nil when there is none.
    package func readState(_ name: String) throws -> [UInt8]? {
        let display = "\(path)/.fixity/\(name)"
        guard try Posix.lstatat(stateFD, name, display: display) != nil else { return nil }
        let file = try Posix.openat(stateFD, name, flags: O_RDONLY | O_NOFOLLOW, display: display)
        defer { Posix.close(file) }
        var bytes = [UInt8]()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        while case let count = try Posix.read(file, into: buffer, display: display), count > 0 {
            bytes += UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        }
        return bytes
    }

    /// Removes a state file; one already gone is fine.
    package func removeState(_ name: String) throws {
        guard try Posix.lstatat(stateFD, name, display: name) != nil else { return }
        try Posix.unlinkat(stateFD, name, display: "\(path)/.fixity/\(name)")
    }
}
