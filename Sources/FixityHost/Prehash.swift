import Dispatch
import FixityCore
import FixityStore

/// Full-mode hashing started before the walk, from the manifest's list of files.
final class Prehash: @unchecked Sendable {
    struct Result: Sendable {
        /// The file's stat when it was hashed: the walk's must match for the result to count.
        let stat: FileStat
        let hash: LiveHash
    }

    private let paths: [String]
    private let results: SlotArray<Result?>
    private let done = DispatchSemaphore(value: 0)

    // @unchecked Sendable: `results` is written at distinct indices by the workers and read only
    // after `done` is signalled.
    private init(paths: [String]) {
        self.paths = paths
        results = SlotArray(repeating: nil, count: paths.count)
    }

    /// `closingWhenDone`: the descriptor is the prehash's own, closed once every file is hashed.
    /// `progress` counts what it hashes (a full verify spends most of its time here).
    static func start(treeFD: Int32, paths: [String], closingWhenDone: Bool = false, progress: WorkProgress? = nil)
        -> Prehash
    {
        let task = Prehash(paths: paths)
        progress?.setTotals(files: paths.count, bytes: 0)
        DispatchQueue.global().async {
            try? ParallelWork.run(count: task.paths.count, makeContext: { WorkBuffer(worker: $0) }) {
                index, buffer in
                if let (stat, hash) = LiveHash.hashUnwalked(
                    treeFD, task.paths[index], buffer: buffer.raw, progress: progress)
                {
                    task.results[index] = Result(stat: stat, hash: hash)
                }
            }
            if closingWhenDone { Posix.close(treeFD) }
            task.done.signal()
        }
        return task
    }

    func wait() -> [String: Result] {
        done.wait()
        var byPath = [String: Result](minimumCapacity: paths.count)
        for (index, path) in paths.enumerated() { if let result = results[index] { byPath[path] = result } }
        return byPath
    }
}
