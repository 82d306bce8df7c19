import FixityStore

/// A file the CLI writes for the user (a proof bundle): all or nothing (`DurableFile`).
enum OutputFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        try DurableFile.replace(path, with: bytes)
    }
}
