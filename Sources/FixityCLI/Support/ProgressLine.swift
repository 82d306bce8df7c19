import FixityCore
import FixityStore
import Foundation
import Synchronization

/// A one-line progress display on stderr (files, bytes, rate), redrawn a few times a second on
/// its own thread while the work runs on others. Silent unless asked for (a terminal, no --json).
final class ProgressLine: Sendable {
    let counters = WorkProgress()
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let enabled: Bool

    init(enabled: Bool, verb: String) {
        self.enabled = enabled
        guard enabled else { return }
        let start = Date()
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.2)
                draw(verb: verb, elapsed: Date().timeIntervalSince(start))
            }
            StandardStream.error.write(Data("\r\u{1B}[K".utf8))
            done.signal()
        }
    }

    var reporter: WorkProgress? { enabled ? counters : nil }

    private func draw(verb: String, elapsed: Double) {
        let s = counters.snapshot
        let rate = elapsed > 0 ? Double(s.bytes) / elapsed : 0
        // A total not known up front (an image being imported) is left out, never shown as 0.
        let files = s.totalFiles > 0 ? "\(s.files)/\(s.totalFiles)" : "\(s.files)"
        let bytes = s.totalBytes > 0 ? "\(Output.bytes(s.bytes))/\(Output.bytes(s.totalBytes))" : Output.bytes(s.bytes)
        let line = "\r\u{1B}[K\(verb) \(files) files, \(bytes), \(Output.bytes(Int(rate)))/s"
        StandardStream.error.write(Data(line.utf8))
    }

    func finish() {
        guard enabled, !stopped.exchange(true, ordering: .relaxed) else { return }
        done.wait()
    }
}
