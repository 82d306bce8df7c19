import FixityCore
import FixityStore

/// Full-mode hashing started before the walk, from the manifest's list of files.
struct Prehash: Sendable {
    struct Result: Sendable {
        /// The file's stat when it was hashed: the walk's must match for the result to count.
        let stat: FileStat
        let hash: LiveHash
    }

    private let paths: [String]
    /// Written at distinct indices by the workers, read only after `job` has ended.
    private let results: SlotArray<Result?>
    private let job: BackgroundJob<Void>

    /// `closingWhenDone`: the descriptor is the prehash's own, closed once every file is hashed.
    /// `progress` counts what it hashes (a full verify spends most of its time here).
    static func start(treeFD: Int32, paths: [String], closingWhenDone: Bool = false, progress: WorkProgress? = nil)
        -> Prehash
    {
        let results = SlotArray<Result?>(repeating: nil, count: paths.count)
        progress?.setTotals(files: paths.count, bytes: 0)
        let job = BackgroundJob<Void> {
            // A file it cannot hash is left to the comparison, which hashes (and reports) it.
            try? ParallelWork.run(count: paths.count, makeContext: { WorkBuffer(worker: $0) }) { index, buffer in
                if let (stat, hash) = LiveHash.hashUnwalked(
                    treeFD, paths[index], buffer: buffer.raw, progress: progress)
                {
                    results[index] = Result(stat: stat, hash: hash)
                }
            }
            if closingWhenDone { Posix.close(treeFD) }
        }
        return Prehash(paths: paths, results: results, job: job)
    }

    func wait() -> [String: Result] {
        try? job.wait()
        var byPath = [String: Result](minimumCapacity: paths.count)
        for (index, path) in paths.enumerated() { if let result = results[index] { byPath[path] = result } }
        return byPath
    }
}
