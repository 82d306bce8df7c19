import Synchronization

/// Counters a terminal progress line reads while a long operation runs on worker threads.
package final class WorkProgress: Sendable {
    private let filesDone = Atomic<Int>(0)
    private let bytesDone = Atomic<Int>(0)
    private let totals = Mutex<(files: Int, bytes: Int)>((0, 0))

    package init() {}

    package func setTotals(files: Int, bytes: Int) { totals.withLock { $0 = (files, bytes) } }

    package func add(files: Int = 0, bytes: Int) {
        if files != 0 { filesDone.add(files, ordering: .relaxed) }
        bytesDone.add(bytes, ordering: .relaxed)
    }

    package var snapshot: (files: Int, bytes: Int, totalFiles: Int, totalBytes: Int) {
        let total = totals.withLock { $0 }
        return (filesDone.load(ordering: .relaxed), bytesDone.load(ordering: .relaxed), total.files, total.bytes)
    }
}
