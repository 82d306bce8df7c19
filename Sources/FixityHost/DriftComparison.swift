import FixityCore
import FixityStore

/// The drift comparison: the manifest's entries against the live tree's (a `CanonicalMerge`),
/// then the hashing of files whose stat data does not vouch for them. Shared by whole-tree and
/// subtree scans.
extension DriftScanner {
    /// Added files larger than this are reported without their digest.
    static let observedHashLimit: Int64 = 64 << 20

    func compareTrees(
        expected: ArraySlice<ManifestEntry>, live: [WalkedEntry], treeFD: Int32, ignore: IgnoreRules, full: Bool,
        snapshot: RecordedStats?, notes: inout [String], progress: WorkProgress?,
        prehashed: [String: Prehash.Result] = [:]
    ) throws -> (DriftReport, ignored: Int, hashed: Int) {
        var report = DriftReport()
        var ignored = 0
        var hashJobs = [(path: String, expected: Digest, size: UInt64, stat: FileStat)]()
        var unreadableDirs = [String]()
        func underUnreadable(_ path: String) -> Bool {
            unreadableDirs.contains { path.hasPrefix($0 + "/") }
        }

        CanonicalMerge.walk(expected, live, leftPath: \.path, rightPath: \.path) { step in
            switch step {
            case .onlyLeft(let entry):
                if ignore.ignores(entry.path) {
                    ignored += 1
                } else if !underUnreadable(entry.path) {
                    report.removed.append(entry.path)
                }
            case .onlyRight(let entry):
                if ignore.ignores(entry.path) {
                    ignored += 1
                } else {
                    report.added.append(entry.path)
                }
            case .both(let want, let have):
                if ignore.ignores(want.path) {
                    ignored += 1
                } else if case .unreadableFolder? = have.problem {
                    report.unreadable.append(have.path)
                    unreadableDirs.append(have.path)
                    if !want.isDirectory { report.typeChanged.append(want.path) }
                } else {
                    compare(want, have, full: full, snapshot: snapshot, report: &report, hashJobs: &hashJobs)
                }
            }
        }

        // Hash what needs it, on all cores; a file that cannot be read is reported as such.
        let results = SlotArray<LiveHash?>(repeating: nil, count: hashJobs.count)
        let jobs = hashJobs
        // With a prehash the counters already run (it hashed most of these); otherwise these are the work.
        if prehashed.isEmpty { progress?.setTotals(files: jobs.count, bytes: Int(jobs.reduce(0) { $0 + $1.size })) }
        try ParallelWork.run(count: jobs.count, makeContext: { WorkBuffer(worker: $0) }) {
            index, buffer in
            let job = jobs[index]
            if let early = prehashed[job.path], early.stat.sameContentSignature(as: job.stat) {
                results[index] = early.hash
            } else {
                results[index] = LiveHash.compute(
                    treeFD, job.path, walked: job.stat, buffer: buffer.raw, progress: progress)
            }
        }
        for (index, job) in jobs.enumerated() {
            switch results[index]! {
            case .digest(let digest):
                if digest != job.expected {
                    report.modified.append(job.path)
                    report.observed[job.path] = digest
                }
            case .unreadable:
                report.unreadable.append(job.path)
            case .changing:
                report.modified.append(job.path)
                notes.append("\(job.path) changed while being verified")
            }
        }
        let liveByPath =
            report.added.isEmpty ? [:] : Dictionary(live.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for path in report.added {
            guard let entry = liveByPath[path] else { continue }
            report.live[path] = Self.liveState(entry, was: nil)
            // Hashed for the record up to a size: an added sparse terabyte must not cost a
            // terabyte of reading on every verify.
            if entry.stat.isRegularFile, entry.stat.size <= Self.observedHashLimit,
                case .digest(let digest) = LiveHash.compute(
                    treeFD, path, walked: entry.stat, buffer: nil, progress: nil)
            {
                report.observed[path] = digest
            }
        }
        report.modified.sort { EntryPath.precedes($0, $1) }
        return (report, ignored, hashJobs.count)
    }

    private func compare(
        _ want: ManifestEntry, _ have: WalkedEntry, full: Bool, snapshot: RecordedStats?, report: inout DriftReport,
        hashJobs: inout [(path: String, expected: Digest, size: UInt64, stat: FileStat)]
    ) {
        let stat = have.stat
        func note(was: String) { report.live[want.path] = Self.liveState(have, was: was) }
        switch want.kind {
        case .directory:
            guard stat.isDirectory else { note(was: want.typeName); return report.typeChanged.append(want.path) }
            if stat.permissions != want.mode { note(was: want.modeString); report.modeChanged.append(want.path) }
        case .symlink(let target):
            guard stat.isSymlink else { note(was: want.typeName); return report.typeChanged.append(want.path) }
            if !(have.target ?? "").utf8.elementsEqual(target.utf8) {
                note(was: "-> " + target); report.modified.append(want.path)
            }
        case .file(let size, let digest):
            guard stat.isRegularFile, have.problem == nil else {
                note(was: want.typeName); return report.typeChanged.append(want.path)
            }
            if stat.permissions != want.mode { note(was: want.modeString); report.modeChanged.append(want.path) }
            if !full, let snapshot, snapshot.unchanged(want.path, stat) { return }
            // Another size is another content: a large one is said without reading a byte (a
            // sparse terabyte written over a small file would otherwise cost a terabyte of
            // hashing); a small one is still hashed, so its digest tells drift states apart.
            if UInt64(max(0, stat.size)) != size && stat.size > Self.observedHashLimit {
                return report.modified.append(want.path)
            }
            hashJobs.append((want.path, digest, size, stat))
        }
    }
}

extension DriftScanner {
    /// What a live entry is, for the report (type, mode, link target), and what it `was`.
    static func liveState(_ entry: WalkedEntry, was: String?) -> DriftReport.LiveState {
        let stat = entry.stat
        let type =
            stat.isRegularFile
            ? "file" : stat.isDirectory ? "directory" : stat.isSymlink ? "symlink" : stat.typeDescription
        return DriftReport.LiveState(
            type: type, mode: stat.isSymlink ? nil : ManifestEntry.octalMode(stat.permissions), target: entry.target,
            was: was)
    }
}
