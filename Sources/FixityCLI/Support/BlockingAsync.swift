import Dispatch
import Synchronization

/// Runs async library code from a synchronous command and waits for it: the one place the CLI
/// crosses from its main thread into Swift concurrency. The main thread is not one of the
/// cooperative pool's threads, so blocking it while the task runs there cannot starve the task.
func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Mutex<Result<T, any Error>?>(nil)
    let finished = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        outcome.withLock { $0 = result }
        finished.signal()
    }
    finished.wait()
    return try outcome.withLock { $0! }.get()
}
