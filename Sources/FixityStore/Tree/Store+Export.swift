import FixityCore
import Glibc

extension Store {
    /// Writes release `id` out to `destination`, which must not exist or be an empty folder.
    ///
    /// The tree is built in a hidden sibling folder, verified byte by byte, made durable, then
    /// renamed into place: a failure (a corrupt object, a full disk) leaves no partial tree.
    package func export(_ id: ReleaseID, to destination: String, progress: WorkProgress? = nil) throws {
        let manifest = try self.manifest(id)
        let trimmed = destination.count > 1 && destination.hasSuffix("/") ? String(destination.dropLast()) : destination
        let parent = trimmed.contains("/") ? String(trimmed[..<trimmed.lastIndex(of: "/")!]) : "."
        let name =
            trimmed.contains("/") ? String(trimmed[trimmed.index(after: trimmed.lastIndex(of: "/")!)...]) : trimmed
        guard !name.isEmpty, name != ".", name != ".." else {
            throw StoreError(.badInput, "\(destination): export needs a new or empty folder name", path: destination)
        }
        let parentFD: Int32
        do {
            parentFD = try Posix.open(parent.isEmpty ? "/" : parent, flags: O_RDONLY | O_DIRECTORY)
        } catch let error as StoreError {
            throw StoreError(.badInput, "\(destination): parent folder unusable: \(error.message)", path: destination)
        }
        defer { Posix.close(parentFD) }
        // The top folder is not in the manifest (DESIGN.md): a new one is 0755 like a deployment's,
        // readable by the users who will run what is in it; an existing empty one keeps its mode.
        var topMode: mode_t = 0o755
        if let existing = try Posix.lstatat(parentFD, name, display: destination) {
            topMode = mode_t(existing.permissions)
            guard existing.isDirectory else {
                throw StoreError(.badInput, "\(destination) exists and is not a folder", path: destination)
            }
            let fd = try Posix.openDirectory(parentFD, name, display: destination)
            defer { Posix.close(fd) }
            guard try Posix.directoryNames(fd, display: destination).isEmpty else {
                throw StoreError(
                    .badInput, "\(destination) is not empty; export writes only into a new or empty folder",
                    path: destination)
            }
        }

        let staging = ".\(name).fixity-export-\(getpid())"
        let stagingDisplay = "\(parent)/\(staging)"
        try Posix.removeTree(parentFD, staging, display: stagingDisplay)
        if Glibc.mkdirat(parentFD, staging, 0o700) != 0 { throw StoreError.system("mkdir", path: stagingDisplay) }
        do {
            let stagingFD = try Posix.openDirectory(parentFD, staging, display: stagingDisplay)
            defer { Posix.close(stagingFD) }
            try TreeMaterializer(store: self, manifest: manifest, progress: progress).write(
                into: stagingFD, display: stagingDisplay)
            if fchmod(stagingFD, topMode) != 0 { throw StoreError.system("chmod", path: stagingDisplay) }
            // rename(2) replaces an empty folder atomically; a non-empty one fails with ENOTEMPTY.
            try Posix.renameat(parentFD, staging, parentFD, name, display: destination)
            try Posix.fsync(parentFD, display: parent)
        } catch {
            try? Posix.removeTree(parentFD, staging, display: stagingDisplay)
            throw error
        }
    }
}
