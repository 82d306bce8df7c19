import Foundation
import GRDB
import Testing

/// A store that has been tampered with or interrupted: found by fsck, refused by readers,
/// cleaned by gc, never silently served.
@Suite struct StoreIntegrityTests {
    func objectPath(_ sandbox: Sandbox, _ digest: String) -> String {
        let hex = digest.dropFirst("sha256:".count)
        return "\(sandbox.store)/objects/sha256/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    func sealedTree(_ sandbox: Sandbox) throws -> (id: String, blob: String) {
        try sandbox.sh("mkdir -p tree/lib && printf 'good bytes\\n' > tree/lib/app.js && echo other > tree/b")
        let id = try sandbox.seal("tree", extra: ["--tag", "1.0"])
        let blob = try sandbox.sh("printf 'good bytes\\n' | sha256sum | cut -c1-64").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        return (id, "sha256:" + blob)
    }

    @Test func objectsAreReadOnlyAndFsckOfAHealthyStoreIsClean() throws {
        let sandbox = try Sandbox()
        let (_, blob) = try sealedTree(sandbox)
        #expect(try sandbox.sh("stat -c %a '\(objectPath(sandbox, blob))'").stdout == "444\n")
        let fsck = try sandbox.fixity("fsck", "--json")
        #expect(fsck.status == 0)
        #expect(try fsck.json()["clean"] as? Bool == true)
        #expect(try fsck.json()["objects"] as? Int == 3)  // two blobs and the manifest
    }

    @Test func corruptObjectIsNamedByFsckAndRefusedByExportAndCat() throws {
        let sandbox = try Sandbox()
        let (id, blob) = try sealedTree(sandbox)
        let path = objectPath(sandbox, blob)
        try sandbox.sh("chmod u+w '\(path)' && printf 'evil bytes\\n' > '\(path)'")

        let fsck = try sandbox.fixity("fsck")
        #expect(fsck.status == 1)
        #expect(fsck.stdout.contains(blob))
        #expect(try sandbox.fixity("fsck", "--json").json()["corrupt"] as? [String] == [blob])

        let export = try sandbox.fixity("export", id, "out")
        #expect(export.status == 2)
        #expect(export.stderr.contains(String(blob.dropFirst(7).prefix(12))) && export.stderr.contains("corrupt"))
        #expect(
            try sandbox.sh("ls -A").stdout.split(separator: "\n").sorted() == ["store", "tree"],
            "export left a partial tree")

        let cat = try sandbox.fixity("cat", "app@1.0", "lib/app.js")
        #expect(cat.status == 2)
        #expect(cat.stdout.isEmpty, "cat wrote unverified bytes")
    }

    @Test func missingObjectIsFoundByFsck() throws {
        let sandbox = try Sandbox()
        let (_, blob) = try sealedTree(sandbox)
        try sandbox.sh("rm -f '\(objectPath(sandbox, blob))'")
        let fsck = try sandbox.fixity("fsck", "--json")
        #expect(fsck.status == 1)
        #expect(try fsck.json()["missing"] as? [String] == [blob])
    }

    /// Someone with write access to the store plants a hostile manifest under its true digest and
    /// records it as a release: every reader refuses it, naming the problem.
    @Test(arguments: [
        ("dot-dot", "file\t0644\t4\t%BLOB%\t../../etc/cron.d/x\n", "'..'"),
        ("absolute", "file\t0644\t4\t%BLOB%\t/etc/passwd\n", "absolute"),
        ("under a symlink", "symlink\t0777\t4\t/etc\tetc\nfile\t0644\t4\t%BLOB%\tetc/passwd\n", "not a directory"),
        ("duplicate", "file\t0644\t4\t%BLOB%\ta\nfile\t0644\t4\t%BLOB%\ta\n", "duplicate"),
        ("unsorted", "file\t0644\t4\t%BLOB%\tb\nfile\t0644\t4\t%BLOB%\ta\n", "order"),
    ])
    func hostileManifestInTheStoreIsRefused(_ attack: String, _ body: String, _ problem: String) throws {
        let sandbox = try Sandbox()
        _ = try sealedTree(sandbox)
        try sandbox.sh("printf 'evil' > blob && sha256sum blob | cut -c1-64 > blob.sha")
        let blobHex = try sandbox.sh("cat blob.sha").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try sandbox.sh(
            "cp blob '\(objectPath(sandbox, "sha256:" + blobHex))' 2>/dev/null || (mkdir -p '\(sandbox.store)/objects/sha256/\(blobHex.prefix(2))' && cp blob '\(objectPath(sandbox, "sha256:" + blobHex))')"
        )
        let manifest = "fixity-manifest 1\n" + body.replacingOccurrences(of: "%BLOB%", with: "sha256:" + blobHex)
        try manifest.write(toFile: "\(sandbox.root)/manifest", atomically: true, encoding: .utf8)
        let idHex = try sandbox.sh("sha256sum manifest | cut -c1-64").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        try sandbox.sh(
            "mkdir -p '\(sandbox.store)/objects/sha256/\(idHex.prefix(2))' && cp manifest '\(objectPath(sandbox, "sha256:" + idHex))'"
        )
        let db = try DatabaseQueue(path: "\(sandbox.store)/fixity.db")
        try db.write { db in
            try db.execute(
                sql:
                    "INSERT INTO releases (id, app, sealed_at, files, bytes) VALUES (?, 'evil', '2026-01-01T00:00:00Z', 1, 4)",
                arguments: ["sha256:" + idHex])
        }

        for command in [
            ["show", "sha256:" + idHex], ["export", "sha256:" + idHex, "out"], ["diff", "app@1.0", "sha256:" + idHex],
        ] {
            let result = try sandbox.fixity(command)
            #expect(result.status == 2, "\(attack): \(command[0]) exit \(result.status)")
            #expect(
                result.stderr.contains("invalid manifest") && result.stderr.contains(problem),
                "\(attack): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/out"))
        let fsck = try sandbox.fixity("fsck", "--json")
        #expect(fsck.status == 1)
        #expect(try fsck.json()["invalid_releases"] as? [String] == ["sha256:" + idHex])
    }

    @Test func gcRemovesOnlyUnreferencedObjectsAndTempFiles() throws {
        let sandbox = try Sandbox()
        let (id, blob) = try sealedTree(sandbox)
        // Leftovers of an interrupted seal: an object no release references, and a temp file.
        try sandbox.sh(
            "printf 'orphan' > o && h=$(sha256sum o | cut -c1-64) && mkdir -p store/objects/sha256/$(echo $h | cut -c1-2) && cp o store/objects/sha256/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-) && echo half > store/tmp/obj-1-2-3"
        )
        let orphan =
            "sha256:"
            + (try sandbox.sh("sha256sum o | cut -c1-64").stdout.trimmingCharacters(in: .whitespacesAndNewlines))

        let dry = try sandbox.fixity("gc", "--dry-run", "--json")
        #expect(dry.status == 0)
        #expect(try dry.json()["removed_objects"] as? [String] == [orphan])
        #expect(FileManager.default.fileExists(atPath: objectPath(sandbox, orphan)), "dry run removed something")

        let gc = try sandbox.fixity("gc", "--json")
        #expect(gc.status == 0)
        #expect(try gc.json()["removed_objects"] as? [String] == [orphan])
        #expect(try gc.json()["removed_temp"] as? Int == 1)
        #expect(!FileManager.default.fileExists(atPath: objectPath(sandbox, orphan)))
        #expect(FileManager.default.fileExists(atPath: objectPath(sandbox, blob)))
        #expect(try sandbox.fixity("fsck").status == 0)
        #expect(try sandbox.fixity("export", id, "out").status == 0)
    }

    @Test func sealKilledMidwayLeavesAConsistentStoreAndCanBeRerun() throws {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "mkdir tree && for d in $(seq 1 20); do mkdir tree/d$d; for f in $(seq 1 100); do echo \"$d/$f\" > tree/d$d/f$f; done; done; head -c 20000000 /dev/urandom > tree/big"
        )
        for delay in [0.02, 0.05, 0.1, 0.2] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Sandbox.binary)
            process.arguments = ["seal", "\(sandbox.root)/tree", "--app", "app", "--store", sandbox.store]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let fsck = try sandbox.fixity("fsck")
            #expect(fsck.status == 0, "after kill at \(delay)s: \(fsck.stdout)\(fsck.stderr)")
        }
        let id = try sandbox.seal("tree")
        #expect(try sandbox.fixity("gc").status == 0)
        #expect(try sandbox.fixity("fsck").status == 0)
        #expect(try sandbox.fixity("export", id, "out").status == 0)
        #expect(try sandbox.seal("out", store: "\(sandbox.root)/store2") == id)
    }
}
