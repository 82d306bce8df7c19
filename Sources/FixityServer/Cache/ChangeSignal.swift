import Synchronization

/// Wakes the long polls (`GET /v1/agent/desired`) when the catalog's generation moves: each
/// waiter registers under the lock and is resumed at once if the generation already moved
/// since it read its answer, so a change landing between the read and the wait is never lost.
final class ChangeSignal: Sendable {
    private let waiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Resumes every waiter (called after the generation moved).
    func fire() {
        let woken = waiters.withLock { waiters in
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns when `moved()` is true, after `fire`, after `seconds`, or when the task is
    /// cancelled — whichever is first.
    func wait(upTo seconds: Double, moved: @escaping @Sendable () -> Bool) async {
        let id = nextID.add(1, ordering: .relaxed).newValue
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
            group.addTask { await self.waitForFire(id, moved: moved) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForFire(_ id: UInt64, moved: @escaping @Sendable () -> Bool) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = waiters.withLock { waiters -> Bool in
                    if Task.isCancelled || moved() { return true }
                    waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            waiters.withLock { $0.removeValue(forKey: id) }?.resume()
        }
    }
}
