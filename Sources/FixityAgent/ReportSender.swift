import FixityCore
import FixityServer
import Foundation
import Synchronization

/// Sends reports in the order they happened, each until the server took it: a host that is cut
/// off keeps its reports (up to `capacity`, oldest status ones dropped first) and delivers them
/// when the server is back. Each report's seq is fixed when it is first made, so a retry is the
/// same report (a 409 for a seq the server already has means an earlier try got through).
final class ReportSender: Sendable {
    static let capacity = 1000
    private let queue = Mutex<[AgentReport]>([])
    private let lastSeq = Mutex<Int64>(0)
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    let interval: Int
    let log: @Sendable (String) -> Void

    init(interval: Int, log: @escaping @Sendable (String) -> Void) {
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.interval = interval
        self.log = log
    }

    /// Queues `draft` with the next seq: microseconds since the epoch, or one more than the last
    /// — increasing across restarts without a counter on disk.
    @discardableResult
    func enqueue(_ draft: ReportDraft) -> Int64 {
        let now = Date()
        let seq = lastSeq.withLock { last -> Int64 in
            last = max(last + 1, Int64(now.timeIntervalSince1970 * 1_000_000))
            return last
        }
        let report = draft.report(seq: seq, time: now, interval: interval)
        queue.withLock { queue in
            queue.append(report)
            if queue.count > Self.capacity, let index = queue.firstIndex(where: { $0.event == .status }) {
                queue.remove(at: index)
            }
            if queue.count > Self.capacity { queue.removeFirst() }
        }
        wake.yield()
        return seq
    }

    /// Returns once report `seq` left the queue (delivered, or refused by the server), or after
    /// `seconds` (the server may be away: work that waits on a report must not wait forever).
    func delivered(_ seq: Int64, within seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var pause = 2
        while ContinuousClock.now < deadline, queue.withLock({ $0.contains { $0.seq == seq } }) {
            try? await Task.sleep(for: .milliseconds(pause))
            pause = min(pause * 2, 50)
        }
    }

    var pending: Int { queue.withLock { $0.count } }

    /// Delivers until cancelled; backs off (with jitter) while the server cannot be reached.
    func run(client: ServerClient) async {
        var failures = 0
        while !Task.isCancelled {
            guard let next = queue.withLock({ $0.first }) else {
                for await _ in wakes { break }
                continue
            }
            do {
                let _: [String: Int64] = try await client.document(.POST, "/v1/agent/reports", body: next)
                failures = 0
                queue.withLock { if $0.first == next { $0.removeFirst() } }
            } catch let error as ServerClientError where error.status == 409 {
                log(
                    "report \(next.seq) (\(next.event.rawValue)): the server already has it or refused it: \(error.message)"
                )
                queue.withLock { if $0.first == next { $0.removeFirst() } }
            } catch let error as ServerClientError where error.status == 400 {
                log("report \(next.seq) (\(next.event.rawValue)) refused as malformed, dropped: \(error.message)")
                queue.withLock { if $0.first == next { $0.removeFirst() } }
            } catch {
                failures += 1
                let delay = Backoff.delay(after: failures)
                log(
                    "reports: the server cannot be reached (\(error)); \(pending) waiting, retrying in \(String(format: "%.1f", delay)) s"
                )
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
        }
    }
}

/// Exponential backoff with jitter: 1, 2, 4 … seconds up to 60, each ±50 %, so a fleet that
/// lost its server does not come back in one synchronized wave.
enum Backoff {
    static func delay(after failures: Int) -> Double {
        let base = min(60, pow(2, Double(min(failures, 10) - 1)))
        return base * Double.random(in: 0.5...1.5)
    }
}
