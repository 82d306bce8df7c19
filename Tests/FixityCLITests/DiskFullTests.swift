import Foundation
import Testing

/// Seal and deploy onto a size-limited tmpfs until ENOSPC: a clear error, no partial object, no
/// half deployment, and everything usable once space is freed. Needs permission to mount
/// (root in CI); skipped, saying so, where the machine forbids it.
@Suite(.serialized) struct DiskFullTests {
    static let canMount: Bool = {
        let probe = "/tmp/fixity-mount-probe-\(getpid())"
        let result = try? Sandbox.shell(
            "mkdir -p \(probe) && mount -t tmpfs -o size=1m tmpfs \(probe) && umount \(probe); rmdir \(probe)")
        return result?.status == 0
    }()

    /// A tmpfs of `megabytes` at `sandbox.root/name`, unmounted when the test ends.
    final class SmallDisk {
        let path: String
        init(_ sandbox: Sandbox, name: String, megabytes: Int) throws {
            path = "\(sandbox.root)/\(name)"
            try sandbox.sh("mkdir -p \(path) && mount -t tmpfs -o size=\(megabytes)m tmpfs \(path)")
        }
        func resize(megabytes: Int) throws {
            _ = try Sandbox.shell("mount -o remount,size=\(megabytes)m \(path)")
        }
        deinit { _ = try? Sandbox.shell("umount -l \(path)") }
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN); skipped here"))
    func sealOnAFullDiskFailsCleanlyAndRecovers() throws {
        let sandbox = try Sandbox()
        let disk = try SmallDisk(sandbox, name: "disk", megabytes: 6)
        try sandbox.sh("mkdir -p src && for i in $(seq 1 12); do head -c 1000000 /dev/urandom > src/f$i; done")
        let store = "\(disk.path)/store"
        let full = try sandbox.fixity(["seal", "src", "--app", "app", "--tag", "1"], store: store)
        #expect(full.status == 2, "\(full.stdout) \(full.stderr)")
        #expect(full.stderr.lowercased().contains("space"), "the error says why: \(full.stderr)")
        // Nothing half-done: no release, no temp objects, fsck clean.
        #expect(
            (try sandbox.fixity(["releases", "--json"], store: store).json()["releases"] as? [Any])?.isEmpty == true)
        #expect(
            try sandbox.sh("find \(store)/tmp -type f | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == "0")
        #expect(try sandbox.fixity(["fsck"], store: store).status == 0)
        // Space freed: the same seal succeeds and the store is whole.
        try disk.resize(megabytes: 64)
        let retry = try sandbox.fixity(["seal", "src", "--app", "app", "--tag", "1"], store: store)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try sandbox.fixity(["fsck"], store: store).status == 0)
        #expect(try sandbox.fixity(["log", "verify"], store: store).status == 0)
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN); skipped here"))
    func deployOntoAFullDiskLeavesTheRootAsItWas() throws {
        let sandbox = try Sandbox()
        let disk = try SmallDisk(sandbox, name: "disk", megabytes: 4)
        try sandbox.sh(
            "mkdir -p small big && echo v1 > small/VERSION && for i in $(seq 1 8); do head -c 1000000 /dev/urandom > big/f$i; done"
        )
        _ = try sandbox.seal("small", app: "app", extra: ["--tag", "1"])
        _ = try sandbox.seal("big", app: "app", extra: ["--tag", "2"])
        let root = "\(disk.path)/root"
        #expect(try sandbox.fixity("deploy", "app@1", "--root", root, "--link", "copy").status == 0)
        let before = try sandbox.sh("readlink \(root)/current").stdout
        let full = try sandbox.fixity("deploy", "app@2", "--root", root, "--link", "copy")
        #expect(full.status == 2 && full.stderr.lowercased().contains("space"), "\(full.stderr)")
        #expect(try sandbox.sh("readlink \(root)/current").stdout == before, "current untouched")
        #expect(
            try sandbox.sh("ls -A \(root)/deployments | grep -c -e incoming -e removing || true").stdout
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(try sandbox.fixity("verify", "--root", root, "--full").status == 0)
        try disk.resize(megabytes: 64)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", root, "--link", "copy").status == 0)
        #expect(try sandbox.fixity("verify", "--root", root, "--full").status == 0)
        #expect(try sandbox.fixity("log", "verify").status == 0)
    }

    /// The ledger itself on a full disk: a checkpoint, a signature, a tag and a seal each fail
    /// with exit 2 saying so, and the ledger is exactly what it was. Then the disk is given back
    /// 4 KiB at a time and a seal is retried at every step, so the in-between states are met too
    /// (blob written but the database append out of room, journal out of room): every failure
    /// leaves fsck and `log verify` clean, and the first success is a whole release.
    @Test(.enabled(if: canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN); skipped here"))
    func ledgerAppendsOnAFullDiskFailCleanly() throws {
        let sandbox = try Sandbox()
        let disk = try SmallDisk(sandbox, name: "disk", megabytes: 3)
        let store = "\(disk.path)/store"
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        #expect(try sandbox.fixity(["seal", "src", "--app", "app", "--tag", "1"], store: store).status == 0)
        #expect(try sandbox.fixity(["key", "generate", "--out", "k.json"]).status == 0)
        let ledgerBefore = try sandbox.fixity(["log", "verify"], store: store)
        #expect(ledgerBefore.status == 0)
        _ = try sandbox.sh("dd if=/dev/zero of=\(disk.path)/filler bs=4k 2>/dev/null || true")

        try sandbox.sh("mkdir -p src2 && head -c 20000 /dev/urandom > src2/data")
        for args in [
            ["log", "checkpoint", "--key", "k.json"], ["sign", "app@1", "--key", "k.json"],
            ["tag", "app@2", "app@1"], ["seal", "src2", "--app", "app", "--tag", "3"],
        ] {
            let full = try sandbox.fixity(args, store: store)
            #expect(full.status == 2, "\(args): \(full.stdout) \(full.stderr)")
            #expect(
                full.stderr.contains("No space left on device") || full.stderr.contains("no space left on device"),
                "\(args) says why: \(full.stderr)")
        }
        #expect(
            try sandbox.fixity(["log", "verify"], store: store).stdout == ledgerBefore.stdout, "not one entry was added"
        )
        #expect(try sandbox.fixity(["fsck"], store: store).status == 0)

        var failures = 0
        var sealed = false
        for _ in 0..<400 where !sealed {
            _ = try sandbox.sh("truncate -s -4096 \(disk.path)/filler")
            let attempt = try sandbox.fixity(["seal", "src2", "--app", "app", "--tag", "3"], store: store)
            if attempt.status == 0 { sealed = true; break }
            failures += 1
            #expect(attempt.status == 2 && attempt.stderr.lowercased().contains("space"), "\(attempt.stderr)")
            #expect(try sandbox.fixity(["fsck"], store: store).status == 0, "fsck after failure \(failures)")
            #expect(
                try sandbox.fixity(["log", "verify"], store: store).status == 0, "log verify after failure \(failures)")
        }
        #expect(sealed && failures > 0, "sealed after \(failures) clean failures")
        #expect(try sandbox.fixity(["show", "app@3"], store: store).status == 0)
        _ = try sandbox.sh("rm \(disk.path)/filler")
        #expect(try sandbox.fixity(["log", "checkpoint", "--key", "k.json"], store: store).status == 0)
        let after = try sandbox.fixity(["log", "verify"], store: store)
        #expect(after.status == 0 && after.stdout.contains("1 stored checkpoints match"), "\(after.stdout)")
        #expect(try sandbox.fixity(["fsck"], store: store).status == 0)
    }
}
