import FixityAccess
import FixityCore
import FixityStore
import FixityTesting
import Foundation
import GRDB
import Testing

/// API keys, the gate of `fixity serve`: made and shown once, kept only as a digest, scoped,
/// expiring, revoked at once, rotated with an overlap; every change in the ledger.
@Suite struct APIKeyTests {
    @Test func keysAreShownOnceAndKeptOnlyAsTheirDigest() throws {
        let sandbox = try Sandbox()
        func keyCommand(_ args: String...) throws -> RunResult {
            try Sandbox.run(Sandbox.binary, ["server", "key"] + args, in: sandbox.root)
        }
        func ledger(_ command: String) throws -> RunResult {
            try Sandbox.run(Sandbox.binary, ["log", command, "--store", "data"], in: sandbox.root)
        }
        let made = try keyCommand(
            "create", "--data", "data", "--name", "ci", "--owner", "build farm", "--scope", "release:push", "--scope",
            "promote:staging", "--expires", "30d", "--json")
        #expect(made.status == 0, "\(made.stderr)")
        let json = try made.json()
        let key = try #require(json["key"] as? String)
        #expect(key.hasPrefix("fxk_") && key.count == 47)
        #expect(json["scopes"] as? [String] == ["promote:staging", "release:push"])
        // Nowhere at rest: not in the database, not in the ledger, not in the list.
        let database = try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/data/fixity.db"))
        #expect(database.range(of: Data(key.utf8)) == nil, "the key is stored in the clear")
        #expect(database.range(of: Data(key.dropFirst(4).utf8)) == nil)
        let listed = try keyCommand("list", "--data", "data", "--json")
        #expect(listed.status == 0 && !listed.stdout.contains(key) && listed.stdout.contains("fxk_"))
        let log = try ledger("export")
        #expect(log.stdout.contains("key-create") && !log.stdout.contains(key))

        // A name in use is a conflict; bad scopes and durations are refused, naming them.
        for (args, message) in [
            (["--name", "ci", "--scope", "admin"], "key 'ci' exists"),
            (["--name", "x", "--scope", "promote:Prod"], "scope 'promote:Prod'"),
            (["--name", "x", "--scope", "deploy"], "unknown scope 'deploy'"),
            (["--name", "x", "--scope", "admin", "--expires", "366d"], "longer than the maximum, 365d"),
            (["--name", "x", "--scope", "admin", "--expires", "0d"], "--expires '0d'"),
            (["--name", "x", "--scope", "admin", "--expires", "2w"], "--expires '2w'"),
            (["--name", "x"], "at least one --scope"),
            (["--name", "a b", "--scope", "admin"], "a key name is"),
        ] {
            let refused = try Sandbox.run(
                Sandbox.binary, ["server", "key", "create", "--data", "data"] + args, in: sandbox.root)
            #expect(refused.status == 2 && refused.stderr.contains(message), "\(args): \(refused.stderr)")
        }

        // Rotate: a new key, the old one ends after the overlap; revoke: at once. All recorded.
        let rotated = try keyCommand("rotate", "--data", "data", "ci", "--overlap", "1h", "--json").json()
        let newKey = try #require(rotated["key"] as? String)
        #expect(newKey != key && rotated["name"] as? String == "ci")
        let revoked = try keyCommand("revoke", "--data", "data", "ci")
        #expect(revoked.status == 0 && revoked.stdout.contains("revoked \(rotated["id"] as? String ?? "?")"))
        let again = try keyCommand("revoke", "--data", "data", rotated["id"] as? String ?? "?")
        #expect(again.status == 2 && again.stderr.contains("already revoked"))
        let actions = try ledger("export").stdout
        #expect(actions.contains("key-rotate") && actions.contains("key-revoke"))
        #expect(try ledger("verify").status == 0)
    }

    /// What a server will ask of every request, against a manual clock: known, unexpired,
    /// unrevoked; the old key of a rotation only within its overlap; use noted with the address.
    @Test func authenticationFollowsExpiryRotationAndRevocation() throws {
        let sandbox = try Sandbox()
        let clock = ManualClock("2030-01-01T00:00:00Z")
        let keys = APIKeyStore(store: try Store.open(at: "\(sandbox.root)/data", clock: clock))
        let (ci, record) = try keys.create(name: "ci", owner: "", scopes: [.releasePush], lifetime: 7200)
        let used = try keys.authenticate(ci.text)
        #expect(used.id == record.id && used.lastUsedAt == nil)
        // Uses are noted in batches (a server flushes them every second), not per request.
        try keys.noteUses([KeyUse(id: used.id, time: clock.now(), address: "127.0.0.1")])
        let noted = try #require(try keys.list().first { $0.id == used.id })
        #expect(noted.lastUsedFrom == "127.0.0.1" && noted.lastUsedAt == Instant(clock.now()).description)
        #expect(APIKeyScope.releasePush.isGranted(by: used.grantedScopes))
        #expect(!APIKeyScope.promote(env: "production").isGranted(by: used.grantedScopes))

        func refusal(_ key: String) -> String? {
            do {
                _ = try keys.authenticate(key)
                return nil
            } catch let error as AccessError {
                #expect(error.category == .unauthorized)
                return error.message
            } catch { return "\(error)" }
        }
        #expect(refusal("fxk_short")?.contains("not a Fixity API key") == true)
        #expect(refusal(APIKeySecret.generate().text)?.contains("unknown API key") == true)

        // Rotation with a 30-minute overlap: both work, then only the new one.
        clock.advance(by: 600)
        let (next, _, old) = try keys.rotate("ci", overlap: 1800, lifetime: 86400)
        #expect(old.replacedBy != nil)
        #expect(refusal(ci.text) == nil && refusal(next.text) == nil)
        clock.advance(by: 1801)
        #expect(refusal(ci.text)?.contains("rotated") == true)
        #expect(refusal(next.text) == nil)
        // Expiry, then revocation.
        let (short, _) = try keys.create(name: "short", owner: "", scopes: [.admin], lifetime: 60)
        clock.advance(by: 61)
        #expect(refusal(short.text)?.contains("expired") == true)
        _ = try keys.revoke("ci")
        #expect(refusal(next.text)?.contains("revoked") == true)
        // A row whose expiry does not parse (an edited database) refuses its key: fail closed.
        let (edited, editedRecord) = try keys.create(name: "edited", owner: "", scopes: [.admin])
        let queue = try liveDatabase("\(sandbox.root)/data/fixity.db")
        try queue.write { db in
            try db.execute(sql: "UPDATE api_keys SET expires_at = 'never' WHERE id = ?", arguments: [editedRecord.id])
        }
        #expect(refusal(edited.text)?.contains("does not parse") == true)
    }

    @Test func secretsDurationsAndScopesParseStrictly() throws {
        let secret = APIKeySecret.generate()
        #expect(try APIKeySecret(presented: secret.text).digest == secret.digest)
        #expect(secret.displayPrefix.count == 10)
        #expect(throws: AccessError.self) { try APIKeySecret(presented: secret.text + "A") }
        #expect(throws: AccessError.self) { try APIKeySecret(presented: "fxk_" + String(repeating: "+", count: 43)) }
        #expect(APIKeySecret.constantTimeEqual(secret.digest, secret.digest))
        #expect(!APIKeySecret.constantTimeEqual(secret.digest, Digest.of([1])))
        let bytes: [UInt8] = [0xfb, 0xff, 0x00, 0x3e]
        #expect(Base64.encodeURL(bytes) == "-_8APg" && Base64.decodeURL("-_8APg") == bytes)
        #expect(Base64.decodeURL("-_8APg==") == nil && Base64.decodeURL("+/8APg") == nil)
        // Every length round-trips; a spelling with stray bits past the last byte, or a length no
        // byte string has, is refused (one spelling per key).
        for count in 0..<70 {
            let random = (0..<count).map { _ in UInt8.random(in: 0...255) }
            #expect(Base64.decodeURL(Base64.encodeURL(random)) == random, "\(count) bytes")
        }
        #expect(Base64.decodeURL("-_8APh") == nil && Base64.decodeURL("-_8AP") == nil)
        #expect(Base64.decodeURL("-_8A\u{e9}g") == nil && Base64.decodeURL("") == [])
        for (text, seconds) in [("90s", 90), ("30m", 1800), ("12h", 43200), ("30d", 2_592_000)] {
            #expect(try HumanDuration.seconds(text, maximum: 365 * 86400, what: "t") == seconds)
        }
        for bad in ["", "s", "0s", "-1d", "1.5h", "1w", "99999999999999999999d", "366d", "٣d"] {
            #expect(throws: AccessError.self, "\(bad)") {
                try HumanDuration.seconds(bad, maximum: 365 * 86400, what: "t")
            }
        }
        #expect(try APIKeyScope(parsing: "host:enroll:eu-west.1") == .hostEnroll(env: "eu-west.1"))
        for bad in ["promote:", "promote:-x", "host:enroll:", "release:write", "ADMIN"] {
            #expect(throws: AccessError.self, "\(bad)") { try APIKeyScope(parsing: bad) }
        }
    }
}
