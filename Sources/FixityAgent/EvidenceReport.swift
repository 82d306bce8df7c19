import CFixitySys
import FixityCore
import FixityHost
import FixityStore
import Foundation
import Glibc

/// The evidence a repair kept on the host, as a report carries it to the server: every entry's
/// stat data, and the bytes of the small files (`ReportedEvidence` caps), read from the store's
/// own evidence folder beneath its descriptor (no symlink followed on the way, as `Evidence`
/// wrote them).
enum EvidenceReport {
    static func files(_ id: String, store: Store) -> [ReportedEvidence] {
        guard let record = (try? Evidence.list(store: store))?.first(where: { $0.id == id }) else { return [] }
        let folder = Glibc.open("\(store.path)/evidence/\(id)/files", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        defer { if folder >= 0 { Glibc.close(folder) } }
        var budget = ReportedEvidence.maximumTotal
        return record.files.prefix(AgentReport.maximumChanges).map { file in
            var content: String?
            if file.kind == "regular file", file.digest != nil, file.size <= Int64(ReportedEvidence.maximumContent),
                Int(file.size) <= budget, folder >= 0, let bytes = read(file.path, beneath: folder, size: file.size)
            {
                budget -= bytes.count
                content = Base64.encode(bytes)
            }
            return ReportedEvidence(
                path: file.path, kind: file.kind, digest: file.digest?.description, size: file.size, mode: file.mode,
                target: file.target, note: file.note, content: content)
        }
    }

    private static func read(_ path: String, beneath folder: Int32, size: Int64) -> [UInt8]? {
        let fd = fixity_open_file_beneath(folder, path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(size) + 1)
        let count = bytes.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0, display: path)) ?? -1 }
        guard count == Int(size) else { return nil }
        return Array(bytes.prefix(count))
    }
}
