import Foundation
import Testing

/// Every bad input to `seal`: exit 2, a message naming the path, and nothing recorded.
@Suite struct SealBadInputTests {
    /// Seals `tree` expecting a refusal that mentions `fragment`, then checks nothing was recorded.
    func expectRefused(
        _ sandbox: Sandbox, _ dir: String = "tree", mentioning fragments: [String], prefix: [String] = []
    ) throws {
        let result = try sandbox.fixity(["seal", dir, "--app", "app"], prefix: prefix)
        #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
        #expect(result.stdout.isEmpty)
        for fragment in fragments {
            #expect(result.stderr.contains(fragment), "stderr lacks '\(fragment)': \(result.stderr)")
        }
        // As the same user: a store owned by another user is refused (StrictModes), even to root.
        let releases = try sandbox.fixity(["releases", "--json"], prefix: prefix).json()
        #expect((releases["releases"] as? [Any])?.isEmpty == true, "a refused seal recorded a release")
        let tmpLeft = try sandbox.sh("ls -A store/tmp 2>/dev/null | wc -l").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(tmpLeft == "0", "a refused seal left temp files")
    }

    @Test func missingDirectoryIsRefused() throws {
        let sandbox = try Sandbox()
        try expectRefused(sandbox, "does-not-exist", mentioning: ["does-not-exist", "no such directory"])
    }

    @Test func fileInsteadOfDirectoryIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("echo x > plain")
        try expectRefused(sandbox, "plain", mentioning: ["plain", "not a directory"])
    }

    @Test func fifoIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p tree/run && echo ok > tree/a && mkfifo tree/run/pipe")
        try expectRefused(sandbox, mentioning: ["tree/run/pipe", "FIFO"])
    }

    @Test func socketIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "mkdir tree && python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.bind('tree/app.sock')\"")
        try expectRefused(sandbox, mentioning: ["tree/app.sock", "socket"])
    }

    @Test(.enabled(if: Sandbox.isRoot, "creating a device node needs root"))
    func deviceFileIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && mknod tree/null c 1 3")
        try expectRefused(sandbox, mentioning: ["tree/null", "character device"])
    }

    @Test func nonUTF8NameIsRefusedAndShownEscaped() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p tree/sub && touch \"tree/sub/bad$(printf '\\377')name\"")
        try expectRefused(sandbox, mentioning: ["tree/sub/bad\\xffname", "not valid UTF-8"])
    }

    @Test func newlineInNameIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && touch \"tree/two$(printf '\\nx')lines\"")
        try expectRefused(sandbox, mentioning: ["tree/two\\x0a", "control character"])
    }

    @Test func unreadableFileIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo secret > tree/locked && chmod 000 tree/locked && echo ok > tree/open")
        if Sandbox.isRoot {
            // root reads everything; run as nobody against a store nobody may write.
            try sandbox.sh("chmod 755 . && mkdir store && chown 65534:65534 store")
            try expectRefused(
                sandbox, mentioning: ["tree/locked", "cannot be read"],
                prefix: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        } else {
            try expectRefused(sandbox, mentioning: ["tree/locked", "cannot be read"])
        }
    }

    @Test func fileChangingWhileSealedIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && for i in $(seq 1 200); do echo $i > tree/f$i; done; : > tree/growing")
        // A writer appends for as long as the seal runs; the seal must notice, not record a blend.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "while :; do head -c 65536 /dev/zero >> '\(sandbox.root)/tree/growing'; done"]
        try writer.run()
        defer { writer.terminate(); writer.waitUntilExit() }
        Thread.sleep(forTimeInterval: 0.2)
        try expectRefused(sandbox, mentioning: ["tree/growing", "changed while being sealed"])
    }

    @Test func badAppNameAndTagAreUsageErrorsWithExit2() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo x > tree/a")
        let badApp = try sandbox.fixity("seal", "tree", "--app", "Bad/App")
        #expect(badApp.status == 2)
        #expect(badApp.stderr.contains("Bad/App"))
        let badTag = try sandbox.fixity("seal", "tree", "--app", "app", "--tag", "../1")
        #expect(badTag.status == 2)
        #expect(badTag.stderr.contains("app@../1"))
        let missingApp = try sandbox.fixity("seal", "tree")
        #expect(missingApp.status == 64)
    }
}
