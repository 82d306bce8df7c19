import FixityCore
import Glibc
import Synchronization

/// Blobs arriving from outside (a push to a server, a pull from one), taken in by the object
/// protocol of invariant 2: each is written to a temp file while it is hashed, and a blob whose
/// bytes do not hash to the digest it arrived under is refused, naming both. `commit` publishes
/// all of them at once; `abandon` — or a failure, or a dropped connection — publishes none, so
/// nothing half-received is ever visible under an object name.
///
/// One owner feeds it, one call at a time (a request handler, from the thread pool); its
/// state is behind a mutex only so the owner may hop threads between calls.
package final class BlobIntake: Sendable {
    package struct Report: Sendable, Equatable {
        /// Blobs written as new objects.
        package var stored = 0
        /// Blobs the store already had (their bytes were read and dropped).
        package var present = 0
        /// Bytes received, framing excluded.
        package var bytes: UInt64 = 0
    }

    private struct Current {
        let digest: Digest
        let size: UInt64
        /// Nil while skipping a blob the store already has.
        let temp: ObjectBatch.Temp?
        var hasher = ContentHasher()
        var received: UInt64 = 0
    }

    private struct State {
        var current: Current?
        var report = Report()
        var closed = false
    }

    let store: Store
    private let batch: ObjectBatch
    private let lock: FileLock
    private let state = Mutex(State())

    /// Holds the store's shared lock until committed or abandoned: gc cannot remove an object
    /// this intake counted as present.
    package init(store: Store) throws {
        self.store = store
        lock = try store.lock(.shared, purpose: "receive blobs")
        batch = ObjectBatch(store: store)
    }

    deinit { abandon() }

    package var report: Report { state.withLock { $0.report } }

    /// Applies what a pack reader found. A digest mismatch throws `StoreError(.badInput)` naming
    /// the claimed and the actual digest; the intake is then abandoned.
    package func apply(_ events: [BlobPackEvent]) throws {
        do {
            try state.withLock { state in
                guard !state.closed else { throw StoreError(.internal, "blob intake used after it was closed") }
                for event in events { try apply(event, to: &state) }
            }
        } catch {
            abandon()
            throw error
        }
    }

    /// Publishes every blob received (one `syncfs`, the renames, another).
    @discardableResult
    package func commit() throws -> Report {
        let report = try state.withLock { state -> Report in
            guard !state.closed else { throw StoreError(.internal, "blob intake committed after it was closed") }
            guard state.current == nil else {
                throw StoreError(.badInput, "blob \(state.current!.digest.short) is incomplete")
            }
            state.closed = true
            return state.report
        }
        do { try batch.commit() } catch {
            batch.abandon()
            throw error
        }
        withExtendedLifetime(lock) {}
        return report
    }

    /// Drops everything received and not committed.
    package func abandon() {
        let open = state.withLock { state -> Current? in
            defer {
                state.current = nil
                state.closed = true
            }
            return state.closed ? nil : state.current
        }
        if let temp = open?.temp {
            Posix.close(temp.fd)
            batch.discard(temp.name)
        }
        batch.abandon()
    }

    private func apply(_ event: BlobPackEvent, to state: inout State) throws {
        switch event {
        case .begin(let digest, let size):
            guard state.current == nil else { throw StoreError(.badInput, "blob pack: a blob began inside another") }
            let skip = store.hasObject(digest) || !batch.claim(digest)
            state.current = Current(digest: digest, size: size, temp: skip ? nil : try batch.createTemp())
        case .bytes(let bytes):
            guard var current = state.current else { throw StoreError(.badInput, "blob pack: bytes outside a blob") }
            try bytes.withUnsafeBytes { raw in
                current.hasher.update(raw)
                if let temp = current.temp { try Posix.writeAll(temp.fd, raw, display: temp.display) }
            }
            current.received += UInt64(bytes.count)
            state.report.bytes += UInt64(bytes.count)
            state.current = current
        case .finish(let digest):
            guard let current = state.current, current.digest == digest, current.received == current.size else {
                throw StoreError(.badInput, "blob pack: blob \(digest.short) ended where it did not begin")
            }
            state.current = nil
            let actual = current.hasher.finalize()
            if let temp = current.temp {
                Posix.startWriteback(temp.fd)
                Posix.close(temp.fd)
                guard actual == digest else {
                    batch.discard(temp.name)
                    throw mismatch(digest, actual)
                }
                batch.stage(temp.name, as: digest)
                state.report.stored += 1
            } else {
                guard actual == digest else { throw mismatch(digest, actual) }
                state.report.present += 1
            }
        case .end:
            guard state.current == nil else { throw StoreError(.badInput, "blob pack: ended inside a blob") }
        }
    }

    private func mismatch(_ claimed: Digest, _ actual: Digest) -> StoreError {
        StoreError(.badInput, "blob \(claimed) does not match its bytes: they hash to \(actual); nothing was stored")
    }
}
