/// The systemd unit `fixity agent install` writes (docs/agent.md, "Running under systemd"):
/// the agent runs as root (it owns the root's files and runs hooks), but in a sandbox that
/// leaves it only what it needs: its root, its store and its identity writable, no new
/// privileges, no devices, a private /tmp, no kernel tunables or modules, only IPv4/IPv6 and
/// Unix sockets, and native system calls.
package enum AgentUnit {
    package static func text(
        executable: String, server: String, identity: String, root: String, store: String, interval: Int
    ) -> String {
        func quoted(_ value: String) -> String {
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + "\""
        }
        let identityFolder = identity.split(separator: "/").dropLast().joined(separator: "/")
        return """
            [Unit]
            Description=Fixity agent: runs only verified, sealed releases on \(root)
            Documentation=https://github.com/fixity/fixity/blob/main/docs/agent.md
            Wants=network-online.target
            After=network-online.target

            [Service]
            Type=simple
            ExecStart=\(quoted(executable)) agent --server \(quoted(server)) --identity \(quoted(identity)) --root \(quoted(root)) --store \(quoted(store)) --interval \(interval)s
            Restart=always
            RestartSec=5
            KillSignal=SIGTERM
            TimeoutStopSec=60
            NoNewPrivileges=yes
            ProtectSystem=strict
            ReadWritePaths=\(quoted(root)) \(quoted(store)) \(quoted("/" + identityFolder))
            ProtectHome=read-only
            PrivateTmp=yes
            PrivateDevices=yes
            ProtectKernelTunables=yes
            ProtectKernelModules=yes
            ProtectKernelLogs=yes
            ProtectControlGroups=yes
            ProtectClock=yes
            ProtectHostname=yes
            RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
            RestrictNamespaces=yes
            RestrictRealtime=yes
            RestrictSUIDSGID=yes
            LockPersonality=yes
            MemoryDenyWriteExecute=yes
            SystemCallArchitectures=native
            UMask=0027

            [Install]
            WantedBy=multi-user.target

            """
    }
}
