import Dispatch
import Foundation
import Synchronization

/// Runs `body` for indices `0..<count` on `workers` threads, each pulling the next index from a
/// shared counter (so one huge file does not leave the other core idle). The first error stops
/// every worker and is rethrown. Blocking I/O runs here, off Swift's cooperative pool.
package enum ParallelWork {
    package static var defaultWorkers: Int { max(2, ProcessInfo.processInfo.activeProcessorCount) }

    package static func run<Context>(
        count: Int, workers: Int = defaultWorkers,
        makeContext: @Sendable (_ worker: Int) -> Context,
        body: @Sendable (Int, inout Context) throws -> Void
    ) throws {
        guard count > 0 else { return }
        let next = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: min(workers, count)) { worker in
            var context = makeContext(worker)
            while failure.withLock({ $0 == nil }) {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                do {
                    try body(index, &context)
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    return
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// One closure run on a thread of its own while the caller goes on; `wait` joins it. For work
/// that overlaps the caller's: hashing ahead of a walk (verify's prehash), folders created and
/// files linked while link sources are still being verified (hardlink deploys).
package final class BackgroundJob<Value: Sendable>: Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let outcome = Mutex<Result<Value, any Error>?>(nil)

    package init(_ body: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global().async {
            let result = Result { try body() }
            self.outcome.withLock { $0 = result }
            self.finished.signal()
        }
    }

    /// Waits for the closure to end: its value, or its error rethrown. Call it once.
    package func wait() throws -> Value {
        finished.wait()
        return try outcome.withLock { $0! }.get()
    }
}

/// A fixed array that parallel workers fill at distinct indices.
///
/// `@unchecked Sendable`: each index is written by exactly one worker (the index came from an
/// atomic counter), and the array is read only after `ParallelWork.run` has joined them all.
/// The slots are one manually allocated block, not a Swift Array: `Array.withUnsafeMutableBufferPointer`
/// empties the array for the duration of the closure (exclusivity), so two workers writing at
/// once could see an empty array and trap — which the crash torture found in `verify --full`.
package final class SlotArray<Element>: @unchecked Sendable {
    private let base: UnsafeMutablePointer<Element>
    package let count: Int

    package init(repeating value: Element, count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: value, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    package subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count, "slot \(index) of \(count)")
            return base[index]
        }
        set {
            precondition(index >= 0 && index < count, "slot \(index) of \(count)")
            base[index] = newValue
        }
    }

    /// The filled slots as an array (after `ParallelWork.run` has joined its workers).
    package var elements: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// A reusable I/O buffer owned by one worker, and the worker's index.
package final class WorkBuffer {
    package let raw: UnsafeMutableRawBufferPointer
    package let worker: Int

    package init(size: Int = IOBuffer.size, worker: Int = 0) {
        raw = .allocate(byteCount: size, alignment: 4096)
        self.worker = worker
    }
    deinit { raw.deallocate() }
}
