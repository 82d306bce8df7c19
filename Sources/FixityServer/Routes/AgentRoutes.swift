import FixityCore
import Foundation
import Hummingbird

/// What agents call, every request signed by the host (`HostGate`): the long poll for what to
/// run, and reports of what happened.
enum AgentRoutes {
    /// The longest a poll may be held.
    static let maximumWait = 300

    static func add(
        to v1: RouterGroup<ServerContext>, fleet: any Fleet, cache: CatalogCache, metrics: ServerMetrics,
        clock: any WallClock
    ) {
        v1.get("agent/desired") { request, context -> Response in
            let host = try context.requireHost()
            let query = request.uri.queryParameters
            let tag = query.get("tag")
            var wait = 0
            if let text = query.get("wait") {
                guard let seconds = Int(text), (0...maximumWait).contains(seconds) else {
                    throw APIFailure.badInput("wait must be 0-\(maximumWait) seconds")
                }
                wait = seconds
            }
            let answer = try await cache.hold(upTo: wait) {
                let answer = try await fleet.desired(for: host)
                return (answer, answer.tag != tag)
            }
            return try JSONBodies.response(answer)
        }

        v1.post("agent/reports") { request, context -> Response in
            let host = try context.requireHost()
            let bytes = try await JSONBodies.body(request, context)
            let report: AgentReport
            do {
                report = try StrictJSON.decode(AgentReport.self, from: bytes)
                try report.validate()
            } catch let error as TrustError {
                throw APIFailure.badInput("report: \(error.message)")
            } catch {
                throw APIFailure.badInput("report: not a report document: \(error)")
            }
            let arrived = ArrivedReport(
                report: report, body: String(decoding: bytes, as: UTF8.self),
                signatureInput: request.headers[.signatureInput] ?? "", signature: request.headers[.signature] ?? "")
            do {
                try await fleet.accept(arrived, from: host)
            } catch let replay as ReportReplayed {
                try await fleet.recordRefusal(
                    host: host.name, reason: replay.message, route: "/v1/agent/reports", address: context.address)
                throw APIFailure(.conflict, .conflict, replay.message)
            }
            metrics.reportArrived(event: report.event, time: report.time, now: clock.now())
            return try JSONBodies.response(["accepted": report.seq], status: .accepted)
        }
    }
}

extension AgentRoutes {
    /// `POST /v1/agent/execs/{id}`: a host's signed progress on a command it was given.
    static func addExecProgress(to v1: RouterGroup<ServerContext>, fleet: any Fleet, cache: CatalogCache) {
        v1.post("agent/execs/{id}") { request, context -> Response in
            let host = try context.requireHost()
            let id = try AccessRoutes.identifier(context)
            let bytes = try await JSONBodies.body(request, context)
            let progress: ExecProgress
            do {
                progress = try StrictJSON.decode(ExecProgress.self, from: bytes)
                try progress.validate()
            } catch let error as TrustError {
                throw APIFailure.badInput("progress: \(error.message)")
            } catch {
                throw APIFailure.badInput("progress: not a progress document: \(error)")
            }
            let arrived = SignedBody(
                body: String(decoding: bytes, as: UTF8.self), signatureInput: request.headers[.signatureInput] ?? "",
                signature: request.headers[.signature] ?? "")
            try await fleet.acceptProgress(progress, exec: id, from: host, arrived: arrived)
            // The caller following the output waits on the generation.
            cache.changed()
            return try JSONBodies.response(["accepted": progress.seq], status: .accepted)
        }
    }
}
