import FixityAccess
import FixityCore
import NIOCore
import Synchronization

/// The two reads every host and pipeline asks over and over — is this key good, what should
/// ENV run — answered from memory while the catalog has not changed, so such a request costs no
/// trip to the thread pool and the database.
///
/// Correctness rests on one counter, the generation. Whatever changes keys or desired states
/// moves it: this server after each of its own mutating requests (before the answer leaves),
/// and a change feed for writers elsewhere (`SQLiteChangeFeed`: another process on the same
/// data folder; `PostgresChangeFeed`: another replica). An entry is stored with the generation
/// read *before* its database read began and used only while the generation is still that, so
/// a change that lands during a read can never be hidden by it. Without a live feed nothing is
/// cached and every read goes to the database.
///
/// Only facts are cached, never decisions: a key's record (its expiry and revocation are judged
/// again at every request, against the clock) and an environment's desired state.
final class CatalogCache: Sendable {
    private let generation = Atomic<UInt64>(0)
    private let live = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let keys = GenerationMap<Digest, APIKeyRecord>()
    private let desired = GenerationMap<String, DesiredAnswer>()
    private let signal = ChangeSignal()

    /// The catalog changed (or may have): every entry is stale from now on, and every long
    /// poll looks again.
    func changed() {
        generation.add(1, ordering: .sequentiallyConsistent)
        signal.fire()
    }

    /// The server is stopping: every held poll is answered now, and none is held from here on.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        changed()
    }

    var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    /// The generation now, live feed or not (a long poll waits for it to move).
    var current: UInt64 { generation.load(ordering: .sequentiallyConsistent) }

    /// Returns once the generation is past `seen`, or after `seconds`.
    func waitForChange(after seen: UInt64, upTo seconds: Double) async {
        await signal.wait(upTo: seconds) { [self] in current != seen }
    }

    /// A long poll: `answer` is computed, and again each time the catalog moves, until it is
    /// `ready`, `seconds` pass or the request is cancelled; the last answer is returned. The
    /// generation is read before each answer, so a change landing while it is computed wakes
    /// the wait at once.
    func hold<T: Sendable>(upTo seconds: Int, _ answer: () async throws -> (value: T, ready: Bool)) async throws
        -> T
    {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let seen = current
            let (value, ready) = try await answer()
            let remaining = deadline - ContinuousClock.now
            // A server stopping answers what it holds at once (`stop()`), rather than keeping
            // SIGTERM waiting for the poll's length. (Request tasks do not see the service
            // group's graceful shutdown, so the cache carries it.)
            guard !ready, remaining > .zero, !Task.isCancelled, !isStopping else { return value }
            await waitForChange(
                after: seen,
                upTo: Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18)
        }
    }

    /// A change feed started (`true`) or lost its source (`false`). Either way, what is held
    /// may have missed a change, so it is dropped.
    func setLive(_ isLive: Bool) {
        changed()
        live.store(isLive, ordering: .sequentiallyConsistent)
        changed()
    }

    var isLive: Bool { live.load(ordering: .sequentiallyConsistent) }

    /// The generation to store a read under; nil when nothing may be cached.
    func readStarting() -> UInt64? {
        guard isLive else { return nil }
        return generation.load(ordering: .sequentiallyConsistent)
    }

    func key(_ digest: Digest) -> APIKeyRecord? {
        guard let now = readStarting() else { return nil }
        return keys.value(digest, generation: now)
    }

    func remember(key: APIKeyRecord, digest: Digest, readAt generation: UInt64?) {
        guard let generation else { return }
        keys.store(key, for: digest, generation: generation)
    }

    /// Nil when not cached (an answer of "no desired state yet" is cached too).
    func desiredState(env: String) -> DesiredAnswer? {
        guard let now = readStarting() else { return nil }
        return desired.value(env, generation: now)
    }

    func remember(desired answer: DesiredAnswer, env: String, readAt generation: UInt64?) {
        guard let generation else { return }
        desired.store(answer, for: env, generation: generation)
    }
}

/// A bounded map whose entries are valid only for the generation they were read under.
final class GenerationMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let generation: UInt64
        let value: Value
    }
    private let entries = Mutex<[Key: Entry]>([:])
    /// Past this, the map starts over (only keys that authenticated and named environments get
    /// in, so this is reached only by a very large fleet of keys; it bounds memory regardless).
    static var capacity: Int { 4096 }

    func value(_ key: Key, generation: UInt64) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key], entry.generation == generation else { return nil }
            return entry.value
        }
    }

    func store(_ value: Value, for key: Key, generation: UInt64) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            // A newer read already stored wins over an older one finishing late.
            if let held = entries[key], held.generation > generation { return }
            entries[key] = Entry(generation: generation, value: value)
        }
    }
}

/// An environment's desired state as `GET …/desired` answers it, encoded once per change.
struct DesiredAnswer: Sendable, Equatable {
    let state: DesiredState?
    /// The JSON body; nil when the environment has no desired state yet.
    let json: ByteBuffer?

    init(_ state: DesiredState?) throws {
        self.state = state
        json = try state.map(JSONBodies.encoded)
    }
}
