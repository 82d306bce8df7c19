import GRDB

/// Opens the SQLite file of a process the test left running (a server, an agent's store).
/// That process writes while the test reads, so the test waits for its lock instead of
/// failing with SQLITE_BUSY the way a bare `DatabaseQueue(path:)` does.
func liveDatabase(_ path: String) throws -> DatabaseQueue {
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    return try DatabaseQueue(path: path, configuration: configuration)
}
