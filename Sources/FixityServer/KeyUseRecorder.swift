import FixityAccess
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keys' last uses, kept in memory and written once a second in one transaction: a request
/// then costs no write of its own (a write per request capped the server at a few hundred
/// requests a second, one commit each). `last_used_at` is accurate to about a second; what is
/// still in memory at shutdown is written as the server stops.
final class KeyUseRecorder: Sendable {
    private let pending = Mutex<[String: KeyUse]>([:])

    func note(_ use: KeyUse) {
        pending.withLock { $0[use.id] = use }
    }

    func drain() -> [KeyUse] {
        pending.withLock { uses in
            defer { uses.removeAll(keepingCapacity: true) }
            return uses.values.sorted { $0.id < $1.id }
        }
    }
}

/// The service that flushes a `KeyUseRecorder` every second, and once more at shutdown.
struct KeyUseFlusher: Service {
    let recorder: KeyUseRecorder
    let plane: any ControlPlane
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            await flush()
        }
        await flush()
    }

    private func flush() async {
        let uses = recorder.drain()
        guard !uses.isEmpty else { return }
        do {
            try await plane.noteKeyUses(uses)
        } catch {
            logger.warning("could not record the last use of \(uses.count) keys: \(error)")
        }
    }
}
