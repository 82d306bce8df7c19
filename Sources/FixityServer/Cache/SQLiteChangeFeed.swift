import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// Tells the cache when anything writes the data folder's database: inotify on the folder, for
/// the database file and its WAL and journal. A commit writes its WAL frames with write(2), which
/// queues the event before the writer's commit returns — so a key revoked with `fixity server
/// key revoke --data DIR` is refused from the next request on. Watches from a thread of its own
/// (it blocks in poll(2)); without inotify the cache stays off and says so.
struct SQLiteChangeFeed: Service {
    let folder: String
    let cache: CatalogCache
    let logger: Logger
    static let databaseName = "fixity.db"

    func run() async throws {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else {
            logger.warning(
                "inotify unavailable (\(String(cString: strerror(errno)))): keys and desired states are read from the database at every request"
            )
            return await Self.idle()
        }
        defer { close(fd) }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB | IN_CLOSE_WRITE)
        guard inotify_add_watch(fd, folder, mask) >= 0 else {
            logger.warning(
                "cannot watch \(folder) (\(String(cString: strerror(errno)))): keys and desired states are read from the database at every request"
            )
            return await Self.idle()
        }
        let stop = StopFlag()
        cache.setLive(true)
        defer { cache.setLive(false) }
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [cache] in
                    Self.watch(fd, cache: cache, stop: stop)
                    done.resume()
                }
                thread.name = "fixity-catalog-feed"
                thread.start()
            }
        } onGracefulShutdown: {
            stop.raise()
        }
    }

    /// A service that returns stops the server: without a feed this one waits for shutdown.
    private static func idle() async {
        try? await gracefulShutdown()
    }

    /// Reads events until `stop`; any event about the database moves the generation (an overflow
    /// of the queue too: it may have hidden one).
    private static func watch(_ fd: Int32, cache: CatalogCache, stop: StopFlag) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stop.isRaised {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 250)
            if ready <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            if touchesDatabase(buffer, count: count) { cache.changed() }
        }
    }

    static func touchesDatabase(_ buffer: [UInt8], count: Int) -> Bool {
        let header = MemoryLayout<inotify_event>.size
        var offset = 0
        while offset + header <= count {
            let (mask, nameLength) = buffer.withUnsafeBytes { raw in
                let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                return (event.mask, Int(event.len))
            }
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { return true }
            let nameStart = offset + header
            let nameEnd = min(count, nameStart + nameLength)
            let name = buffer[nameStart..<nameEnd].prefix { $0 != 0 }
            if name.starts(with: databaseName.utf8) { return true }
            offset = nameStart + nameLength
        }
        return false
    }
}

/// A flag one thread raises and another polls.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .relaxed) }
    var isRaised: Bool { raised.load(ordering: .relaxed) }
}
