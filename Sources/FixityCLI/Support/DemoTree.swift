import FixityStore
import Foundation

/// The small application tree the demo seals: a server script, libraries, static assets,
/// config, a symlink and an empty folder, like a real build output.
enum DemoTree {
    /// Kept after the demo: it prints where, so its store and roots can be looked at.
    static func makeTemporaryFolder() throws -> String {
        try PrivateTempFolder(purpose: "demo").path
    }

    static func writeVersion1(at root: String) throws {
        let files: [(String, String, Int)] = [
            ("bin/server", "#!/bin/sh\nexec node \"$(dirname \"$0\")/../lib/server.js\" \"$@\"\n", 0o755),
            (
                "lib/server.js",
                "const cart = require('./cart');\nrequire('http').createServer(cart.handle).listen(8080);\n", 0o644
            ),
            ("lib/cart.js", "exports.handle = (req, res) => { res.end('cart v1'); };\n", 0o644),
            ("lib/pricing.js", "exports.total = (items) => items.reduce((a, i) => a + i.price, 0);\n", 0o644),
            ("public/index.html", "<!doctype html><title>Shop</title><h1>Shop</h1>\n", 0o644),
            ("public/app.css", "body { font-family: sans-serif; }\n", 0o644),
            ("scripts/migrate.sh", "#!/bin/sh\necho migrating\n", 0o644),
            (
                "bin/health",
                "#!/bin/sh\n# The deploy health check: the cart module must export a handler.\ngrep -q 'exports.handle' lib/cart.js\n",
                0o755
            ),
            ("VERSION", "1.0\n", 0o644),
        ]
        for (path, text, mode) in files { try write(root, path, text, mode: mode) }
        try FileManager.default.createDirectory(atPath: "\(root)/var/cache", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: "\(root)/lib/current-cart.js", withDestinationPath: "cart.js")
    }

    static func applyVersion2(at root: String) throws {
        try write(
            root, "lib/cart.js", "exports.handle = (req, res) => { res.end('cart v2 with coupons'); };\n", mode: 0o644)
        try write(
            root, "lib/coupons.js", "exports.apply = (total, code) => code === 'FIXITY' ? total * 0.9 : total;\n",
            mode: 0o644)
        try write(root, "VERSION", "1.1\n", mode: 0o644)
        try FileManager.default.removeItem(atPath: "\(root)/lib/pricing.js")
        let script = try Posix.openat(
            AT_FDCWD, "\(root)/scripts/migrate.sh", flags: O_RDONLY | O_NOFOLLOW, display: "\(root)/scripts/migrate.sh")
        defer { Posix.close(script) }
        guard fchmod(script, 0o755) == 0 else { throw CLIError("chmod \(root)/scripts/migrate.sh failed") }
    }

    /// A broken build: the cart module lost its handler, so the health check fails.
    static func applyBrokenBuild(at root: String) throws {
        try write(root, "lib/cart.js", "// TODO: rewrite\n", mode: 0o644)
        try write(root, "VERSION", "1.2\n", mode: 0o644)
    }

    /// The fix done properly: a working cart, through the pipeline.
    static func applyVersion3(at root: String) throws {
        try write(
            root, "lib/cart.js", "exports.handle = (req, res) => { res.end('cart v3 with coupons and the fix'); };\n",
            mode: 0o644)
        try write(root, "VERSION", "1.3\n", mode: 0o644)
    }

    /// A release that carries its own health check (an agent runs the release's, never a flag's).
    static func applyVersion(_ version: String, at root: String, broken: Bool) throws {
        try write(root, "VERSION", "\(version)\n", mode: 0o644)
        try write(root, "fixity.toml", "[deploy]\nhealth_cmd = \"sh bin/health\"\nhealth_timeout = 10\n", mode: 0o644)
        try write(
            root, "lib/cart.js",
            broken ? "// lost in a merge\n" : "exports.handle = (req, res) => { res.end('cart \(version)'); };\n",
            mode: 0o644)
    }

    /// What someone types into production at 3 a.m.: an edited file and a forgotten debug script.
    static func hotfix(at live: String, content: String) throws {
        try Data(content.utf8).write(to: URL(fileURLWithPath: "\(live)/lib/cart.js"))
        try Data("console.log(process.env)\n".utf8).write(to: URL(fileURLWithPath: "\(live)/lib/debug.js"))
    }

    private static func write(_ root: String, _ path: String, _ text: String, mode: Int) throws {
        let full = "\(root)/\(path)"
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // One descriptor, opened without following a symlink: written, then its mode set on it.
        let fd = try Posix.openat(
            AT_FDCWD, full, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600, display: full)
        defer { Posix.close(fd) }
        try Posix.writeAll(fd, Array(text.utf8), display: full)
        guard fchmod(fd, mode_t(mode)) == 0 else { throw CLIError("chmod \(full) failed") }
    }
}
