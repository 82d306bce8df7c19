import ArgumentParser
import FixityCore
import FixityServer
import FixityStore
import FixityTrust
import Foundation

/// `fixity host enroll|list|revoke`: the hosts of a server's environments (docs/agent.md).
struct HostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host", abstract: "Enroll, list and revoke the hosts that run agents.",
        subcommands: [Enroll.self, List.self, Show.self, Revoke.self])

    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make this host's identity, register it with a server, and pin the policy root it trusts.",
            discussion: """
                Needs an API key scoped host:enroll:ENV. The policy root is given here, by the operator — never taken \
                from the server: --policy-root ed25519:<base64> (repeat it), or --policy-root-file FILE (a policy file \
                whose [root] it takes, or one key per line). The identity file (mode 0600) is all the agent needs \
                afterwards: its requests are signed with it, no API key.
                """)
        @Option(help: "The environment this host belongs to.") var env: String
        @Option(help: "The host's name (default: the system's host name).") var name: String?
        @Option(help: "Where to write the host's identity (a new file, mode 0600).") var identity: String
        @Option(
            name: .customLong("policy-root"),
            help: "A policy root key the host trusts: ed25519:<base64> (repeatable).")
        var policyRoots: [String] = []
        @Option(
            name: .customLong("policy-root-file"),
            help: "A policy file whose [root] the host trusts, or a file of ed25519:<base64> keys, one per line.")
        var policyRootFile: String?
        @Option(
            name: .customLong("policy-root-threshold"),
            help: "Root signatures a policy needs (default: the policy file's, else 1).")
        var policyRootThreshold: Int?
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                _ = try APIKeyScope(parsing: "host:enroll:\(env)")
                guard
                    let hostName = name
                        ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init)
                else { throw CLIError("no host name: give --name") }
                guard HostName.isValid(hostName) else {
                    throw CLIError(
                        "host name '\(hostName)': 1-64 letters, digits, '.', '_', '-', starting with a letter or digit")
                }
                let root = try pinnedRoot()
                let url = try connection.url()
                try checkServerPolicy(against: root)
                let key = SigningKey.generate()
                let identity = HostIdentity(host: hostName, env: env, server: url, key: key, policyRoot: root)
                // The file first (it proves the path is free and writable), then the server; a
                // refused enrollment removes it again.
                let file = try KeyFiles.createSecret(identity.fileBytes(), at: self.identity, what: "an identity")
                let enrollment = HostEnrollment(name: hostName, env: env, publicKey: key.publicKey.policyText)
                let view: HostView
                do {
                    view = try connection.session { client -> HostView in
                        try await client.document(.POST, "/v1/hosts", body: enrollment)
                    }
                } catch {
                    file.remove()
                    throw error
                }
                if global.json { return try Output.json(view) }
                Output.line(
                    "enrolled \(view.name) in \(view.env) (host key \(key.id.short)); identity in \(self.identity)")
                Output.note(
                    "pinned policy root: \(root.threshold) of \(root.keys.count) key(s) \(root.keys.map(\.id.short).joined(separator: ", "))"
                )
            }
        }

        /// The server's policy in force must be one an agent pinned to `root` takes: enrolling
        /// a host that will refuse its first desired state is a mistake to say now, not at the
        /// host's first cycle. (A newly enrolled host trusts the root it is given; after a
        /// rotation, that is the current root.)
        private func checkServerPolicy(against root: RootRole) throws {
            let record = try connection.session { client -> PolicyRecord?? in
                do {
                    return .some(try await client.document(.GET, "/v1/policy"))
                } catch let error as ServerClientError where error.status == 404 {
                    return .some(nil)
                } catch let error as ServerClientError where error.status == 403 {
                    return nil
                }
            }
            guard let record else {
                Output.note(
                    "this key may not read the server's policy (release:read): not checked against the pinned root")
                return
            }
            guard let record else {
                Output.note(
                    "the server has no policy yet: the agent will verify the first one against the root pinned here")
                return
            }
            do {
                let (envelope, text) = try SignedPolicy.unwrap(
                    Array(record.envelope.utf8), source: "the server's policy \(record.digest.short)")
                let policy = try PolicyFile.parse(text, name: "the server's policy \(record.digest.short)")
                try SignedPolicy.admit(
                    envelope, policy: policy, current: try Policy(keys: [:], environments: [], root: root))
            } catch let error as any FixityError {
                throw CLIError(
                    "the server's policy \(record.digest.short) is not signed by the policy root pinned here (\(root.threshold) of \(root.keys.map(\.id.short).joined(separator: ", "))): \(error.message). An agent pinned to this root would refuse every desired state; pin the root that signs the server's policy (its [root])."
                )
            }
        }

        /// The root from the flags or the file; never from the server.
        private func pinnedRoot() throws -> RootRole {
            var keys = [PublicKey]()
            var threshold = policyRootThreshold
            for text in policyRoots {
                do { keys.append(try PublicKey(policyText: text)) } catch {
                    throw CLIError("--policy-root '\(text.prefix(80))': \(error.message)")
                }
            }
            if let file = policyRootFile {
                guard let data = FileManager.default.contents(atPath: file),
                    let text = String(data: data, encoding: .utf8)
                else { throw CLIError("--policy-root-file \(file): cannot be read as text") }
                if let policy = try? PolicyFile.parse(text, name: file), let root = policy.root {
                    keys += root.keys
                    threshold = threshold ?? root.threshold
                } else {
                    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                        let trimmed = line.trimmingCharacters(in: .whitespaces)
                        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                        do { keys.append(try PublicKey(policyText: trimmed)) } catch {
                            throw CLIError(
                                "--policy-root-file \(file) line \(number + 1): \(error.message) (expected a policy file with [root], or one ed25519:<base64> per line)"
                            )
                        }
                    }
                }
            }
            guard !keys.isEmpty else {
                throw CLIError(
                    "no policy root: give --policy-root ed25519:<base64> or --policy-root-file FILE (the host trusts only the roots you pin)"
                )
            }
            do { return try RootRole(keys: keys, threshold: threshold ?? 1) } catch {
                throw CLIError("policy root: \(error.message)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The hosts a server knows (a release:read key).")
        @Option(help: "Only this environment's hosts.") var env: String?
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let path = "/v1/hosts" + (env.map { "?env=\($0)" } ?? "")
                let hosts = try connection.session { client -> [HostView] in try await client.document(.GET, path) }
                if global.json { return try Output.json(hosts) }
                HostTable.print(hosts)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a host: its requests are refused from now on (an admin key).")
        @Argument(help: "The host's name.") var name: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                guard HostName.isValid(name) else { throw CLIError("'\(name)' is not a host name") }
                let view = try connection.session { client -> HostView in
                    try await client.document(.POST, "/v1/hosts/\(name)/revoke")
                }
                if global.json { return try Output.json(view) }
                Output.line("revoked \(view.name) (\(view.env)) at \(view.revokedAt ?? "-")")
            }
        }
    }
}

/// Hosts as `host list` and `env show` print them.
enum HostTable {
    /// One row per host under a header, columns aligned; drift and a failure's reason last.
    static func print(_ hosts: [HostView]) {
        guard !hosts.isEmpty else { return Output.line("  no hosts enrolled") }
        var rows = [["  HOST", "ENV", "STATE", "RELEASE", "DEPLOYMENT", "LAST REPORT", "NOTE"]]
        for host in hosts {
            var note = ""
            if !host.drift.isEmpty {
                note = "drift: \(host.drift.prefix(3).joined(separator: ", "))\(host.drift.count > 3 ? " …" : "")"
            }
            if let detail = host.detail, host.state == "failed" {
                note = detail.split(separator: "\n").joined(separator: " ")
            }
            rows.append([
                "  " + host.name, host.env, host.state, host.release.flatMap { Digest(parsing: $0)?.short } ?? "-",
                host.deployment.flatMap { Digest(parsing: $0)?.short } ?? "-", host.lastReportAt ?? "never", note,
            ])
        }
        Output.line(Output.table(rows))
    }
}
