import FixityAccess
import FixityCore
import Foundation
import Glibc
import Testing

@testable import FixityServer

/// The cache in front of key checks and desired states: it answers only while a change feed is
/// live and nothing changed since the answer was read — including a change that landed while
/// the read was still under way.
struct CatalogCacheTests {
    static let digest = Digest.of(Array("fxk_example".utf8))
    static let state = DesiredState(
        env: "staging", release: ReleaseID(Digest.of([1])), seq: 1, policy: Digest.of([2]), key: "k1",
        setAt: "2026-12-04T00:00:00Z")

    @Test func withoutALiveFeedNothingIsCached() throws {
        let cache = CatalogCache()
        #expect(cache.readStarting() == nil)
        cache.remember(desired: try DesiredAnswer(Self.state), env: "staging", readAt: cache.readStarting())
        #expect(cache.desiredState(env: "staging") == nil)
    }

    @Test func aChangeMakesEveryEntryStale() throws {
        let cache = CatalogCache()
        cache.setLive(true)
        cache.remember(desired: try DesiredAnswer(Self.state), env: "staging", readAt: cache.readStarting())
        cache.remember(desired: try DesiredAnswer(nil), env: "production", readAt: cache.readStarting())
        #expect(cache.desiredState(env: "staging")?.state == Self.state)
        // A cached "nothing yet" is an answer too, unlike a miss.
        #expect(cache.desiredState(env: "production") != nil)
        #expect(cache.desiredState(env: "production")?.json == nil)
        #expect(cache.desiredState(env: "qa") == nil)
        cache.changed()
        #expect(cache.desiredState(env: "staging") == nil)
        #expect(cache.desiredState(env: "production") == nil)
    }

    @Test func aReadThatAChangeOvertookIsNeverServed() throws {
        let cache = CatalogCache()
        cache.setLive(true)
        let started = cache.readStarting()
        cache.changed()  // a revocation commits while the read is under way
        cache.remember(desired: try DesiredAnswer(Self.state), env: "staging", readAt: started)
        #expect(cache.desiredState(env: "staging") == nil)
        // The next read, started after the change, is served.
        cache.remember(desired: try DesiredAnswer(Self.state), env: "staging", readAt: cache.readStarting())
        #expect(cache.desiredState(env: "staging")?.state == Self.state)
    }

    @Test func losingTheFeedDropsWhatIsHeld() throws {
        let cache = CatalogCache()
        cache.setLive(true)
        cache.remember(desired: try DesiredAnswer(Self.state), env: "staging", readAt: cache.readStarting())
        cache.setLive(false)
        #expect(cache.desiredState(env: "staging") == nil)
        cache.setLive(true)
        #expect(cache.desiredState(env: "staging") == nil)
    }

    @Test func theFeedHearsTheDatabaseAndOnlyIt() {
        func event(_ name: String, mask: Int32 = Int32(IN_MODIFY)) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: MemoryLayout<inotify_event>.size)
            var padded = Array(name.utf8) + [0]
            while padded.count % 8 != 0 { padded.append(0) }
            bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: UInt32(mask), toByteOffset: 4, as: UInt32.self)
                raw.storeBytes(of: UInt32(padded.count), toByteOffset: 12, as: UInt32.self)
            }
            return bytes + padded
        }
        let other = event("objects") + event("fixity.lock")
        #expect(!SQLiteChangeFeed.touchesDatabase(other, count: other.count))
        let wal = other + event("fixity.db-wal")
        #expect(SQLiteChangeFeed.touchesDatabase(wal, count: wal.count))
        let overflow = event("", mask: Int32(IN_Q_OVERFLOW))
        #expect(SQLiteChangeFeed.touchesDatabase(overflow, count: overflow.count))
    }
}
