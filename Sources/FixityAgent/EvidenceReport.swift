import FixityCore
import FixityHost
import FixityStore
import Foundation
import Glibc

/// The evidence a repair kept on the host, as a report carries it to the server: every entry's
/// stat data, and the bytes of the small files (`ReportedEvidence` caps), read from the store's
/// own evidence folder without following a symlink at the file.
enum EvidenceReport {
    static func files(_ id: String, store: Store) -> [ReportedEvidence] {
        guard let record = (try? Evidence.list(store: store))?.first(where: { $0.id == id }) else { return [] }
        var budget = ReportedEvidence.maximumTotal
        return record.files.prefix(AgentReport.maximumChanges).map { file in
            var content: String?
            if file.kind == "regular file", file.digest != nil, file.size <= Int64(ReportedEvidence.maximumContent),
                Int(file.size) <= budget, let bytes = read("\(store.path)/evidence/\(id)/files/\(file.path)", file.size)
            {
                budget -= bytes.count
                content = Base64.encode(bytes)
            }
            return ReportedEvidence(
                path: file.path, kind: file.kind, digest: file.digest?.description, size: file.size, mode: file.mode,
                target: file.target, note: file.note, content: content)
        }
    }

    private static func read(_ path: String, _ size: Int64) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(size) + 1)
        let count = bytes.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0, display: path)) ?? -1 }
        guard count == Int(size) else { return nil }
        return Array(bytes.prefix(count))
    }
}
